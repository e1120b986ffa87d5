"""evidock storage subsystem."""
