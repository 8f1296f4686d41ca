"""What every feature shares: time, Markdown, payload parsing, the notifier, web glue."""
