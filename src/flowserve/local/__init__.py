"""Running a whole Flow on one machine: one process per executor replica plus a gateway."""
