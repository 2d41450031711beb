"""Pure plotly builders: data in, a figure out, so each is tested without a browser. `style` holds the colours and
templates, `parts` the shared pieces, `live` and `tabs` the Playground's views, `lessons` and `starts` the lessons'.
Depends on the engine's history and metrics and on the lessons' results."""
