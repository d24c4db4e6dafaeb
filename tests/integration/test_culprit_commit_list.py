"""The first step's commit listing, run as a job runs it: in the runner's depth-1 clone of the bad
commit, fetched from a real git daemon (no Docker needed: the same program, the same git calls)."""

import subprocess
import sys

import pytest

from sdk_campaigns.culprit import commits
from tests.git_repos import ScriptedRepo, git_daemon


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """main: c1 c2 c3, a branch off c2 (f1 f2) merged as m, then c4..c6; and an unrelated repository."""
    root = tmp_path_factory.mktemp("repos")
    repo = ScriptedRepo(root)
    shas = {f"c{i}": repo.commit(f"c{i}", {"f.txt": f"c{i}"}) for i in (1, 2)}
    repo.git("checkout", "-q", "-b", "feature")
    shas["f1"] = repo.commit("f1", {"g.txt": "f1"})
    shas["f2"] = repo.commit("f2", {"g.txt": "f2"})
    repo.git("checkout", "-q", "main")
    shas["c3"] = repo.commit("c3", {"f.txt": "c3"})
    repo.git("merge", "-q", "--no-ff", "-m", "m", "feature")
    shas["m"] = repo.git("rev-parse", "HEAD")
    for i in (4, 5, 6):
        shas[f"c{i}"] = repo.commit(f"c{i}", {"f.txt": f"c{i}"})
    repo.publish()
    other = ScriptedRepo(root, "other")
    shas["other"] = other.commit("unrelated", {"x.txt": "x"})
    other.publish()
    with git_daemon(root) as url:
        yield url, shas


def list_in_a_runner_clone(tmp_path, url: str, good: str, bad: str, limit: int) -> tuple[str, str]:
    """Clone as images/common/run_suite.py does, run the first step's command; (its output, the list file)."""
    src = tmp_path / "src"
    src.mkdir(parents=True)
    clone = [
        ["init", "-q"],
        ["remote", "add", "origin", url],
        ["fetch", "-q", "--depth", "1", "origin", bad],
        ["checkout", "-q", "FETCH_HEAD"],
    ]
    for step in clone:
        subprocess.run(["git", "-C", str(src), *step], check=True, capture_output=True)
    results = tmp_path / "results"
    command = commits.list_then_test_command(
        [sys.executable, "-c", "print('TESTS RAN')"], good, limit, str(results)
    )
    command[0] = sys.executable
    done = subprocess.run(command, cwd=src, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout, (results / "culprit-commits.xml").read_bytes()


def test_lists_first_parent_commits_from_good_to_bad_then_runs_the_tests(served, tmp_path):
    url, shas = served
    output, listing = list_in_a_runner_clone(tmp_path, f"{url}/sdk.git", shas["c1"], shas["c6"], 1024)
    assert "TESTS RAN" in output
    good, bad, listed = commits.parse_commit_list(listing, max_commits=1024)
    assert (good, bad) == (shas["c1"], shas["c6"])
    assert listed == [
        shas[k] for k in ("c2", "c3", "m", "c4", "c5", "c6")
    ]  # the branch's own commits: not first-parent


def test_more_commits_than_the_limit_is_an_error_and_the_tests_still_run(served, tmp_path):
    url, shas = served
    output, listing = list_in_a_runner_clone(tmp_path, f"{url}/sdk.git", shas["c1"], shas["c6"], 3)
    assert "TESTS RAN" in output
    with pytest.raises(
        commits.CommitListError, match=r"not an ancestor of bad .* within 3 commits|over culprit.max_commits"
    ):
        commits.parse_commit_list(listing, max_commits=3)


def test_a_good_commit_that_is_not_an_ancestor_is_named(served, tmp_path):
    url, shas = served
    _, listing = list_in_a_runner_clone(tmp_path, f"{url}/sdk.git", shas["c6"], shas["c3"], 16)
    with pytest.raises(commits.CommitListError, match="is not an ancestor of bad"):
        commits.parse_commit_list(listing, max_commits=16)
    _, listing = list_in_a_runner_clone(tmp_path / "x", f"{url}/sdk.git", "f" * 40, shas["c3"], 16)
    with pytest.raises(commits.CommitListError, match="cannot fetch good commit"):
        commits.parse_commit_list(listing, max_commits=16)
