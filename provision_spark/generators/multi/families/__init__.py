"""Multi-image generators, one module per family; every module here is imported by discovery."""
