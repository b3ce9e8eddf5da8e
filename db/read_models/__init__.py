"""What viewers read, prepared when it changes (DESIGN.md, "Serving: read models")."""
