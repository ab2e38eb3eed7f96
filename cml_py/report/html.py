"""report.md as a page: the comment as a reviewer will see it, to open locally.

Rendered by cmark-gfm, the renderer GitHub itself uses for comments (with its tag
filter: no script, style or iframe), in a page styled like a GitHub comment.
"""

from __future__ import annotations

HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>cml-py report</title>
<style>
body {{ font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial,
       sans-serif; color: #1f2328; margin: 0; background: #f6f8fa; }}
main {{ max-width: 920px; margin: 24px auto; background: #fff; border: 1px solid #d0d7de;
        border-radius: 6px; padding: 16px 24px; }}
.who {{ color: #59636e; border-bottom: 1px solid #d0d7de; margin: -16px -24px 16px;
        padding: 8px 24px; background: #f6f8fa; border-radius: 6px 6px 0 0; }}
table {{ border-collapse: collapse; margin: 8px 0 16px; display: block; overflow: auto; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 12px; }}
tr:nth-child(2n) {{ background: #f6f8fa; }}
code {{ background: rgba(175,184,193,.2); border-radius: 6px; padding: .1em .4em; }}
img {{ max-width: 100%; }}
details {{ margin: 8px 0; }} summary {{ cursor: pointer; }}
sub {{ color: #59636e; }}
</style></head>
<body><main>
<div class="who"><b>github-actions</b> commented — as it would look on the pull request</div>
{body}
</main></body></html>
"""


def render_html(markdown: str) -> str:
    """The markdown through GitHub's own renderer (cmark-gfm), in a GitHub-like page."""
    import cmarkgfm
    from cmarkgfm.cmark import Options

    body = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    return HTML_PAGE.format(body=body)
