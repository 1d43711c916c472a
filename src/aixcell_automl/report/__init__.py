"""What a person looks at: figures and the self-contained HTML report of a search."""
