"""The commits between good and bad, listed by the first step's own job.

Why a job and not the Airflow worker: jobs already clone the SDK's repository (network to the forge,
git in every image, credentials if any), while MWAA workers promise neither git nor a route to a
private forge, and a worker cloning a large repository holds a slot and disk. The first step reruns
the tests at the bad commit anyway: its job lists the commits first, then runs the tests, so listing
costs no extra job and the bound ceil(log2(n)) + 1 holds.

How (LIST_THEN_TEST, a `python3 -c` program put before the test command; python3 runs the runner glue
of every image, so every image has it): in the runner's shallow clone of `bad` it fetches `good`
(depth 1), then deepens `bad` (16, 64, ... commits, at most max_commits + 1) until `good` is its
ancestor, lists `git rev-list --first-parent --ancestry-path --reverse good..bad`, and writes the list
as the properties of an empty JUnit testsuite (COMMITS_FILE, uploaded with the results: the results
contract carries only XML). Any failure is written as an `error` property; the tests run either way.

The list comes from the job, which runs the repository's code: it is checked here (hex SHAs, bounded,
ending with the bad commit) and can at worst misdirect this bisection, never another SDK's record.
"""

from __future__ import annotations

import re

from defusedxml import ElementTree

from sdk_campaigns.culprit.request import COMMITS_FILE

FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
MAX_LIST_BYTES = 8 * 1024 * 1024

# argv: good, max_commits, output file, "--", the test command...
LIST_THEN_TEST = r"""
import os,subprocess,sys
from xml.sax.saxutils import quoteattr
good,limit,out,cmd=sys.argv[1],int(sys.argv[2]),sys.argv[3],sys.argv[5:]
def git(*a):return subprocess.run(["git",*a],capture_output=True,text=True)
props=[("bad",git("rev-parse","HEAD").stdout.strip())]
bad=props[0][1]
f=git("fetch","-q","--depth=1","origin",good)
def error(message):props.append(("error",message))
if f.returncode:error("cannot fetch good commit "+good+": "+f.stderr.strip()[-400:])
else:
 g=git("rev-parse","FETCH_HEAD").stdout.strip();props.append(("good",g));depth=16
 while True:
  git("fetch","-q","--depth=%d"%depth,"origin",bad)
  if git("merge-base","--is-ancestor",g,bad).returncode==0:
   listed=git("rev-list","--first-parent","--ancestry-path","--reverse",g+".."+bad).stdout.split()
   if len(listed)>limit:
    error("%d commits between good and bad, over culprit.max_commits (%d)"%(len(listed),limit))
   else:props+=[("commit",c) for c in listed]
   break
  if depth>limit:
   error("good %s is not an ancestor of bad %s within %d commits (culprit.max_commits)"%(g,bad,limit))
   break
  depth=min(depth*4,limit+1)
listed=[v for k,v in props if k=="commit"]
print("sdk-culprit:",len(listed),"commits between good and bad",[v for k,v in props if k=="error"],flush=True)
os.makedirs(os.path.dirname(out),exist_ok=True)
with open(out,"w") as fh:
 fh.write('<?xml version="1.0"?>\n<testsuite name="sdk-culprit-commits" tests="0"><properties>')
 fh.writelines("<property name=%s value=%s/>"%(quoteattr(k),quoteattr(v)) for k,v in props)
 fh.write("</properties></testsuite>\n")
os.execvp(cmd[0],cmd)
""".strip()


class CommitListError(ValueError):
    """The first step's commit list is missing, refused or reports an error; the message says which."""


def list_then_test_command(
    test_command: list[str], good: str, max_commits: int, results_dir: str
) -> list[str]:
    """The first step's command: list the commits, then exec the test command."""
    output = f"{results_dir.rstrip('/')}/{COMMITS_FILE}"
    return ["python3", "-c", LIST_THEN_TEST, good, str(max_commits), output, "--", *test_command]


def parse_commit_list(body: bytes, *, max_commits: int) -> tuple[str, str, list[str]]:
    """(good, bad, commits oldest first) from COMMITS_FILE's bytes; CommitListError when it says an
    error or breaks the rules."""
    if len(body) > MAX_LIST_BYTES:
        raise CommitListError(f"{COMMITS_FILE} is {len(body):,} bytes, over {MAX_LIST_BYTES:,}")
    try:
        root = ElementTree.fromstring(body)
    except Exception as err:  # defusedxml's refusals and XML syntax errors alike
        raise CommitListError(f"{COMMITS_FILE} is not readable XML: {err}") from None
    properties = [(p.get("name"), p.get("value") or "") for p in root.iter("property")]
    errors = [value for name, value in properties if name == "error"]
    if errors:
        raise CommitListError(errors[0][:1000])
    values = {name: value for name, value in properties if name in ("good", "bad")}
    commits = [value for name, value in properties if name == "commit"]
    good, bad = values.get("good", ""), values.get("bad", "")
    for sha in (good, bad, *commits):
        if not FULL_SHA.fullmatch(sha):
            raise CommitListError(f"{COMMITS_FILE} names {sha[:80]!r}, which is not a full commit SHA")
    if not commits:
        raise CommitListError(f"no commits between {good} and {bad}: bad is not a descendant of good")
    if len(commits) > max_commits:
        raise CommitListError(f"{len(commits)} commits is over culprit.max_commits ({max_commits})")
    if commits[-1] != bad:
        raise CommitListError(f"the commit list ends with {commits[-1]}, not the bad commit {bad}")
    return good, bad, commits
