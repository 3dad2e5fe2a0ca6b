"""Widgets and drawing helpers shared by the dashboard's screens."""
