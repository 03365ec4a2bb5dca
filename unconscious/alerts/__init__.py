"""Outward notifications that need no model: webhooks, Slack, Discord, healthchecks.io pings."""
