"""evidock devices subsystem."""
