"""Tickets and their events, delivery through channels, hours and SLA, the scheduler, the API and console.

Never imports a concrete channel: the registry of channels is handed in by the app (``bot``).
"""
