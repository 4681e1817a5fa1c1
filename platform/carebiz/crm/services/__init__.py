"""CRM business rules, free of Flask (they take a session; callers commit)."""
