"""The query service: simple and composite queries over registered sources, analysis of the
current result set, charts and reports — with row filters always applied."""
