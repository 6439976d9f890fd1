"""FakeGitHub: the REST and GraphQL endpoints codex-judge reads and writes, served from a JSON
state.

State (``GET``/``PUT /_fake/state``)::

    {"pulls":          {"owner/repo#12": <REST pull object>},
     "pull_files":     {"owner/repo#12": [<REST file object>]},
     "check_runs":     {"owner/repo@<sha>": [<REST check-run object>]},
     "statuses":       {"owner/repo@<sha>": [<REST status object>]},
     "reviews":        {"owner/repo#12": [<REST review object>]},
     "review_threads": {"owner/repo#12": [<GraphQL PullRequestReviewThread node>]},
     "comments":       {"owner/repo#12": [<REST issue comment object>]},
     "check_suites":   {"owner/repo@<sha>": [<REST check-suite object>]},
     "compare":        {"owner/repo@<base>...<head>": <REST comparison object>},
     "trees":          {"owner/repo@<commit sha>": {"<path>": "<text>"}},  # git data reads
     "rerequested":    [{"repository", "suite_id"}],   # appended by POST …/rerequest
     "errors":         [{"status": int, "path": "<substring>", "body": {...},
                         "variables": {<GraphQL variable>: <value>}}],  # one-shot
     "graphql":        {"page_size": 100, "missing_commits": ["<sha>"]},
     "stats":          {"not_modified": int},
     "rate_limit":     {"remaining": null|int, "reset": <epoch s>, "secondary_next": int,
                        "secondary_retry_after": int}}

Wire behaviour copied from GitHub's REST docs ("Using pagination", "Rate limits for the REST
API", "Resources in the REST API"): lists take ``per_page`` (default 30, max 100) and ``page``
and answer a ``Link`` header with ``rel="next"``/``"last"`` (and ``"prev"``/``"first"`` after
page 1); every answer carries ``x-ratelimit-limit/remaining/reset/used/resource``; the primary
limit answers 403 with ``x-ratelimit-remaining: 0``; a secondary limit answers 403 with
``retry-after``; a missing object answers 404 ``{"message": "Not Found", ...}``. GraphQL answers
the query in :data:`shared.adapters.github.REVIEW_THREADS_QUERY` and the decision-point reads of
:mod:`shared.adapters.github_graphql` (:mod:`~shared.local.fakes.github.graphql_reads`) with
cursor pagination; a pull
request that does not exist answers 200 with ``data.repository.pullRequest: null`` and an
``errors`` entry of type ``NOT_FOUND``, as GitHub does. The fake starts empty.

Conditional requests ("Best practices for using the REST API"): every 200 answer to a GET
carries an ``ETag`` (a hash of its body); a GET whose ``If-None-Match`` equals it answers
``304 Not Modified`` with no body, and the request is given back to the primary rate limit
(GitHub does not count a 304); ``stats.not_modified`` counts them. Check suites are listed per
commit; ``POST /repos/{o}/{r}/check-suites/{id}/rerequest`` answers 201 and records the suite
in ``rerequested`` (its runs are then the test's to replace, as the app would); ``GET
/repos/{o}/{r}/compare/{base}...{head}`` answers the seeded comparison (404 when none);
``POST /app/installations/{id}/access_tokens`` mints an installation token for a request
bearing an App JWT (decoded, not verified: the fake holds no public key). An entry of
``errors`` whose ``path`` is in the request path answers once with its status and body.
"""

from shared.local.fakes.github.app import DEFAULT_STATE, create_app

__all__ = ["DEFAULT_STATE", "create_app"]
