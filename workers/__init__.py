"""arq workers: settings, jobs, and the typed enqueue helpers the API uses after commit."""
