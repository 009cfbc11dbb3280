"""The inventory: YAML/JSON documents read safely, host names checked, and the
inventory model (hosts and their services) the engines plan for."""
