"""The rendered CI trust policies, evaluated against GitHub OIDC claims.

moto does not evaluate the conditions of a web-identity trust policy, so this module carries
a small evaluator for exactly the IAM condition operators the policies use (``StringEquals``
and ``StringLike`` with ``*`` and ``?``; conditions ANDed inside a statement, values ORed
inside a condition key, statements ORed) and asserts which tokens may assume each role.
The evaluator is tested on its own first, so a wrong verdict cannot hide behind it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from mlops_blueprints.components.cicd import (
    GithubActionsRole,
    GithubActionsRoleArgs,
    github_subjects,
    github_trust_policy,
)

from mlops_blueprints.render import run_program

pytestmark = pytest.mark.unit

PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
ISSUER = "token.actions.githubusercontent.com"
REPO = "acme/churn-model"
ACTION = "sts:AssumeRoleWithWebIdentity"


# --- a minimal IAM evaluator for the operators in use ----------------------------------------


def _like(pattern: str, value: str) -> bool:
    """IAM ``StringLike``: ``*`` is any run of characters (also none), ``?`` exactly one,
    everything else literal and case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


_OPERATORS = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringLike": _like,
}


def _values(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _condition_holds(condition: dict[str, dict[str, Any]], claims: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        test = _OPERATORS.get(operator)
        assert test is not None, f"the evaluator does not know {operator}"
        for key, expected in keys.items():
            actual = claims.get(key)
            if actual is None or not any(test(e, actual) for e in _values(expected)):
                return False
    return True


def allows(policy: dict[str, Any], *, provider: str, claims: dict[str, str]) -> bool:
    """Whether ``policy`` lets a token from ``provider`` with ``claims`` assume the role."""
    assert all(s["Effect"] == "Allow" for s in policy["Statement"]), "no Deny is expected"
    return any(
        ACTION in _values(s["Action"])
        and s["Principal"] == {"Federated": provider}
        and _condition_holds(s.get("Condition", {}), claims)
        for s in policy["Statement"]
    )


def claims(sub: str, aud: str = "sts.amazonaws.com") -> dict[str, str]:
    return {f"{ISSUER}:sub": sub, f"{ISSUER}:aud": aud}


def test_evaluator_string_like_semantics() -> None:
    assert _like("v*", "v")
    assert _like("v*", "v1.2/x:y")
    assert _like("v?", "v1")
    assert not _like("v?", "v")
    assert not _like("v?", "v12")
    assert not _like("a.b", "axb")  # '.' is literal
    assert not _like("main", "Main")  # case-sensitive
    assert not _like("release/*", "xrelease/1")  # anchored at the start


def test_evaluator_ands_conditions_ors_values_and_statements() -> None:
    def statement(condition: dict[str, Any]) -> dict[str, Any]:
        return {
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER},
            "Action": ACTION,
            "Condition": condition,
        }

    both = {"Statement": [statement({"StringEquals": {"a": "1", "b": ["2", "3"]}})]}
    assert allows(both, provider=PROVIDER, claims={"a": "1", "b": "3"})
    assert not allows(both, provider=PROVIDER, claims={"a": "1", "b": "4"})
    assert not allows(both, provider=PROVIDER, claims={"a": "1"})  # a missing key fails
    assert not allows(both, provider="arn:other", claims={"a": "1", "b": "2"})
    either = {
        "Statement": [
            statement({"StringEquals": {"a": "1"}}),
            statement({"StringLike": {"a": "x*"}}),
        ]
    }
    assert allows(either, provider=PROVIDER, claims={"a": "xyz"})
    with pytest.raises(AssertionError, match="does not know"):
        allows(
            {"Statement": [statement({"ForAnyValue:StringLike": {"a": "*"}})]},
            provider=PROVIDER,
            claims={"a": "1"},
        )


# --- the rendered documents -------------------------------------------------------------------


def rendered_trust(**fields: Any) -> dict[str, Any]:
    """The assume-role policy the component registers, as the engine would receive it."""
    args = GithubActionsRoleArgs(
        identity_name="ci", oidc_provider_arn=PROVIDER, repository=REPO, **fields
    )
    capture = run_program(lambda: GithubActionsRole("ci", args), project="p", stack="s", config={})
    (role,) = [r for r in capture.registrations if r.type == "aws:iam/role:Role"]
    document: dict[str, Any] = json.loads(role.inputs["assumeRolePolicy"])
    # The component renders exactly the pure function's document.
    assert document == github_trust_policy(oidc_provider_arn=PROVIDER, subjects=args.subjects)
    return document


@pytest.fixture(scope="module")
def main_branch() -> dict[str, Any]:
    return rendered_trust(branches=("main",))


def test_the_main_branch_of_the_repository_may_assume(main_branch: dict[str, Any]) -> None:
    assert allows(main_branch, provider=PROVIDER, claims=claims(f"repo:{REPO}:ref:refs/heads/main"))


@pytest.mark.parametrize(
    ("sub", "aud", "why"),
    [
        ("repo:acme/other-model:ref:refs/heads/main", "sts.amazonaws.com", "another repository"),
        ("repo:attacker/churn-model:ref:refs/heads/main", "sts.amazonaws.com", "a fork"),
        ("repo:acme/churn-model-evil:ref:refs/heads/main", "sts.amazonaws.com", "a name prefix"),
        ("repo:ACME/churn-model:ref:refs/heads/main", "sts.amazonaws.com", "another case"),
        ("repo:acme/churn-model:ref:refs/heads/dev", "sts.amazonaws.com", "another branch"),
        ("repo:acme/churn-model:ref:refs/heads/main-x", "sts.amazonaws.com", "a branch prefix"),
        ("repo:acme/churn-model:ref:refs/tags/main", "sts.amazonaws.com", "a tag named main"),
        ("repo:acme/churn-model:pull_request", "sts.amazonaws.com", "a pull request"),
        ("repo:acme/churn-model:environment:production", "sts.amazonaws.com", "an environment"),
        ("repo:acme/churn-model:ref:refs/heads/main", "https://github.com/acme", "an audience"),
        ("repo:acme/churn-model:ref:refs/heads/main", "", "an empty audience"),
    ],
)
def test_nothing_else_may_assume_the_main_branch_role(
    main_branch: dict[str, Any], sub: str, aud: str, why: str
) -> None:
    assert not allows(main_branch, provider=PROVIDER, claims=claims(sub, aud)), why


def test_only_githubs_provider_is_trusted(main_branch: dict[str, Any]) -> None:
    sub = f"repo:{REPO}:ref:refs/heads/main"
    eks = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"
    assert not allows(main_branch, provider=eks, claims=claims(sub))
    assert not allows(main_branch, provider=PROVIDER, claims={f"{ISSUER}:sub": sub})


def test_environment_role_admits_only_jobs_of_that_environment() -> None:
    policy = rendered_trust(environments=("production",))
    assert allows(policy, provider=PROVIDER, claims=claims(f"repo:{REPO}:environment:production"))
    for sub in (
        f"repo:{REPO}:environment:staging",
        f"repo:{REPO}:environment:production-2",
        f"repo:{REPO}:ref:refs/heads/main",
        "repo:attacker/churn-model:environment:production",
    ):
        assert not allows(policy, provider=PROVIDER, claims=claims(sub)), sub


def test_tag_and_branch_patterns_stay_inside_the_repository() -> None:
    policy = rendered_trust(branches=("main", "release/*"), tag_patterns=("v*",))
    assert [s["Sid"] for s in policy["Statement"]] == [
        "GithubActionsExactSubjects",
        "GithubActionsSubjectPatterns",
    ]
    for sub in (
        f"repo:{REPO}:ref:refs/heads/main",
        f"repo:{REPO}:ref:refs/heads/release/1.4",
        f"repo:{REPO}:ref:refs/tags/v1.4.0",
    ):
        assert allows(policy, provider=PROVIDER, claims=claims(sub)), sub
    for sub in (
        f"repo:{REPO}:ref:refs/heads/v1",  # a branch is not a tag
        f"repo:{REPO}:ref:refs/tags/release/1.4",  # a tag is not a branch
        f"repo:{REPO}:ref:refs/heads/hotfix",
        f"repo:{REPO}:pull_request",
        "repo:attacker/churn-model:ref:refs/tags/v1.4.0",
        "repo:acme/churn-model2:ref:refs/heads/release/1.4",
    ):
        assert not allows(policy, provider=PROVIDER, claims=claims(sub)), sub
    # A pattern match still needs the audience.
    assert not allows(
        policy, provider=PROVIDER, claims=claims(f"repo:{REPO}:ref:refs/tags/v1", aud="x")
    )


def test_pull_requests_only_with_the_opt_in() -> None:
    sub = f"repo:{REPO}:pull_request"
    assert not allows(rendered_trust(branches=("main",)), provider=PROVIDER, claims=claims(sub))
    opted_in = rendered_trust(branches=("main",), allow_pull_requests=True)
    assert allows(opted_in, provider=PROVIDER, claims=claims(sub))
    assert not allows(
        opted_in, provider=PROVIDER, claims=claims("repo:attacker/churn-model:pull_request")
    )


def test_owner_wide_opt_in_never_reaches_another_owner() -> None:
    args = GithubActionsRoleArgs(
        identity_name="ci",
        oidc_provider_arn=PROVIDER,
        repository="acme/*",
        branches=("main",),
        allow_all_repositories_of_owner=True,
    )
    policy = github_trust_policy(oidc_provider_arn=PROVIDER, subjects=args.subjects)
    assert allows(policy, provider=PROVIDER, claims=claims("repo:acme/any:ref:refs/heads/main"))
    for sub in (
        "repo:acmecorp/any:ref:refs/heads/main",
        "repo:attacker/acme:ref:refs/heads/main",
        "repo:acme/any:ref:refs/heads/dev",
    ):
        assert not allows(policy, provider=PROVIDER, claims=claims(sub)), sub


# --- properties over many inputs --------------------------------------------------------------

_NAME = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
_REPO_NAME = st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True).filter(
    lambda r: r not in (".", "..")
)
_REF = st.from_regex(r"[a-z0-9][a-z0-9._/-]{0,10}[a-z0-9]", fullmatch=True).filter(
    lambda r: (
        ".." not in r and "//" not in r and not r.endswith(".lock") and not r.startswith("refs/")
    )
)
_PATTERN = st.tuples(_REF, st.sampled_from(["", "*", "?", "/*"])).map(lambda t: t[0] + t[1])


_CONFIG = st.fixed_dictionaries(
    {
        "owner": _NAME,
        "repo": _REPO_NAME,
        "branches": st.lists(_PATTERN, max_size=3, unique=True),
        "tag_patterns": st.lists(_PATTERN, max_size=2, unique=True),
        "environments": st.lists(_REF.filter(lambda r: "/" not in r), max_size=2, unique=True),
    }
)
_FOREIGN = st.tuples(
    st.sampled_from(["fork", "sibling", "unrelated"]),
    _NAME,
    _REPO_NAME,
    st.sampled_from(["ref:refs/heads/", "ref:refs/tags/", "environment:", "pull_request", ""]),
    st.text(alphabet="abcv0123456789./-*?:", max_size=16),
)


@given(config=_CONFIG, foreign=_FOREIGN)
def test_no_subject_of_another_repository_is_ever_trusted(
    config: dict[str, Any], foreign: tuple[str, str, str, str, str]
) -> None:
    owner, repo = config.pop("owner"), config.pop("repo")
    kind, other_owner, other_repo, suffix, tail = foreign
    # A fork keeps the repository name; a sibling is another repository of the same owner.
    if kind == "fork":
        other_repo = repo
    elif kind == "sibling":
        other_owner = owner
    assume(config["branches"] or config["tag_patterns"] or config["environments"])
    assume((other_owner, other_repo) != (owner, repo))
    subjects = github_subjects(repository=f"{owner}/{repo}", **config)
    policy = github_trust_policy(oidc_provider_arn=PROVIDER, subjects=subjects)
    foreign = f"repo:{other_owner}/{other_repo}:"
    assert not allows(policy, provider=PROVIDER, claims=claims(f"{foreign}{suffix}{tail}"))
    for subject in subjects:
        # A token our own subject (patterns filled in) admits, with the audience only ...
        ours = subject.replace("*", "x").replace("?", "y")
        assert allows(policy, provider=PROVIDER, claims=claims(ours))
        assert not allows(policy, provider=PROVIDER, claims=claims(ours, aud="other"))
        # ... and the very same ref or environment from another repository never.
        same_ref = foreign + ours.split(":", 2)[2]
        assert not allows(policy, provider=PROVIDER, claims=claims(same_ref)), same_ref
