"""Exports of the ``instructions`` table in the formats trainers read, and training mixes."""
