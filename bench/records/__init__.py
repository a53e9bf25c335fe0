"""What a run leaves: the record (its schema and constructors), the store of a results folder, and views rebuilt from records."""
