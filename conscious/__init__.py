"""hostmind's reasoning layer: budgeted model calls that propose one change at a time.

It may import `unconscious`; the reverse never happens.
"""
