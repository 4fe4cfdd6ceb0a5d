"""The plugin test kit: pytest fixtures (``pytest_plugin``) and contract suites."""
