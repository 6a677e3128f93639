"""State changes and the queries that matter. Views call these; they raise domain errors."""
