"""Server-rendered pages: layout, navigation, language switch, error pages, vendor assets."""
