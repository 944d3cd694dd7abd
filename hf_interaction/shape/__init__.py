"""Depth-width shape from a config alone: R_D/W and exact parameter counts (config), the efficient
interval (interval), width matching and shape suggestions, and model lists."""
