"""evidock verify subsystem."""
