"""The lesson pages, one per module of symbreak/lessons/ with the same name; `common` holds what they share."""
