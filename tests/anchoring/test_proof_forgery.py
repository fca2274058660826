"""Proof forgery: bundles mixing two chains (a fork) and checkpoints by another key.

The platform key signs two chains from the same start (the vectors' generator world: in
one, item A went to Ginza; in the fork, to Osaka). Every way of mixing them — the fork's
checkpoint over the main chain's blocks, a block, a head or an event from the other — is
refused by ``verify_bundle`` naming the step, as are checkpoints signed by another key.
The single-block fork and a same-name key are also shared vectors (block-from-fork,
wrong-checkpoint-key); these are the remaining cases.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest
from nacl.signing import SigningKey

from anchoring.checkpoint import Signer, open_checkpoint, sign_checkpoint
from anchoring.errors import VerificationError
from anchoring.verify import verify_bundle
from tests.anchoring.test_bundle_vectors import load_generator

GEN = load_generator()
PLATFORM = GEN.PLATFORM
KEY = PLATFORM.verifier()
Bundle = dict[str, Any]


@pytest.fixture(scope="module")
def chains() -> tuple[Bundle, Bundle]:
    """Item A's bundle from the main chain and from its fork (same key, same start)."""
    with GEN.world() as main, GEN.world() as fork:
        main.record(GEN.interleave(GEN.story_a("ginza"), GEN.other_reports()))
        fork.record(GEN.interleave(GEN.story_a("osaka"), GEN.other_reports()))
        a, b = main.prove(GEN.ITEM_A), fork.prove(GEN.ITEM_A)
    verify_bundle(a, KEY)
    verify_bundle(b, KEY)
    assert a["checkpoint"] != b["checkpoint"]
    return a, b


def step(bundle: Bundle, key: Any = KEY) -> str | None:
    try:
        verify_bundle(bundle, key)
    except VerificationError as e:
        assert str(e)
        return e.step
    return None


def mixed(bundle: Bundle, change: Callable[[Bundle], None]) -> Bundle:
    out = copy.deepcopy(bundle)
    change(out)
    return out


def diverged_blocks(a: Bundle, b: Bundle) -> list[int]:
    """Positions in both bundles' block lists where the two chains hold different blocks."""
    return [
        i
        for i, (x, y) in enumerate(zip(a["blocks"], b["blocks"], strict=False))
        if x["header"]["height"] == y["header"]["height"] and x != y
    ]


# ----- forks ---------------------------------------------------------------------------------


def test_the_forks_checkpoint_and_head_over_the_main_chains_blocks_are_refused(
    chains: tuple[Bundle, Bundle],
) -> None:
    a, b = chains

    def fork_checkpoint(x: Bundle) -> None:
        x["checkpoint"], x["head"] = b["checkpoint"], b["head"]

    assert step(mixed(a, fork_checkpoint)) in {"acc_inclusion", "block_link"}


def test_the_forks_checkpoint_with_the_main_head_is_refused(
    chains: tuple[Bundle, Bundle],
) -> None:
    a, b = chains
    assert step(mixed(a, lambda x: x.update(checkpoint=b["checkpoint"]))) == "checkpoint_head"
    assert step(mixed(a, lambda x: x.update(head=b["head"]))) == "checkpoint_head"


@pytest.mark.parametrize("direction", ["main into fork", "fork into main"])
def test_every_single_block_from_the_other_chain_is_refused(
    chains: tuple[Bundle, Bundle], direction: str
) -> None:
    a, b = chains if direction == "fork into main" else reversed(chains)
    positions = diverged_blocks(a, b)
    assert positions
    for position in positions:

        def swap(x: Bundle, position: int = position) -> None:
            x["blocks"][position] = copy.deepcopy(b["blocks"][position])

        assert step(mixed(a, swap)) in {"acc_inclusion", "block_link"}, position


def test_an_event_proven_in_the_fork_is_refused_in_the_main_bundle(
    chains: tuple[Bundle, Bundle],
) -> None:
    """The fork's event (its envelope, leaf and path) with the fork's block: both refused."""
    a, b = chains
    differing = [n for n, (x, y) in enumerate(zip(a["events"], b["events"], strict=True)) if x != y]
    assert differing
    for n in differing:

        def event_only(x: Bundle, n: int = n) -> None:
            x["events"][n] = copy.deepcopy(b["events"][n])

        def event_and_block(x: Bundle, n: int = n) -> None:
            event_only(x, n)
            height = b["events"][n]["height"]
            for position, block in enumerate(b["blocks"]):
                if block["header"]["height"] == height:
                    x["blocks"][position] = copy.deepcopy(block)

        assert step(mixed(a, event_only)) is not None, n
        assert step(mixed(a, event_and_block)) in {"acc_inclusion", "block_link"}, n


def test_the_whole_fork_bundle_verifies_only_as_itself(chains: tuple[Bundle, Bundle]) -> None:
    """Both chains are signed by the platform key: a fork is caught by comparing
    checkpoints (audit, witnesses), not by one bundle; mixing them is what fails."""
    a, b = chains
    assert step(a) is None and step(b) is None
    assert step(mixed(b, lambda x: x.update(events=a["events"]))) is not None


# ----- checkpoints signed by another key ----------------------------------------------------


def test_a_checkpoint_re_signed_by_an_impostor_with_the_same_name_is_refused(
    chains: tuple[Bundle, Bundle],
) -> None:
    a, _ = chains
    impostor = GEN.IMPOSTOR_PLATFORM
    body = open_checkpoint(a["checkpoint"], KEY)
    forged = mixed(a, lambda x: x.update(checkpoint=sign_checkpoint(body, impostor)))
    assert step(forged) == "checkpoint_signature"
    assert step(forged, impostor.verifier()) is None  # it is the wrong key that signed


def test_a_checkpoint_signed_by_another_named_key_or_a_device_key_is_refused(
    chains: tuple[Bundle, Bundle],
) -> None:
    a, _ = chains
    body = open_checkpoint(a["checkpoint"], KEY)
    others = [
        Signer.from_seed("another.example/log", GEN._seed("another log")),
        Signer(PLATFORM.name, SigningKey(GEN._seed("brand"))),  # the brand device's key
    ]
    for other in others:
        forged = mixed(a, lambda x, o=other: x.update(checkpoint=sign_checkpoint(body, o)))
        assert step(forged) == "checkpoint_signature", other


def test_the_platform_signature_moved_onto_the_forks_checkpoint_is_refused(
    chains: tuple[Bundle, Bundle],
) -> None:
    a, b = chains
    text_a, sig_a = a["checkpoint"].split("\n\n", 1)
    text_b, _ = b["checkpoint"].split("\n\n", 1)
    forged = mixed(b, lambda x: x.update(checkpoint=f"{text_b}\n\n{sig_a}"))
    assert step(forged) == "checkpoint_signature"
    assert text_a != text_b


def test_a_forged_line_claiming_the_platform_key_spoils_a_cosigned_checkpoint(
    chains: tuple[Bundle, Bundle],
) -> None:
    """Lines by other keys are ignored (witnesses); one claiming the pinned key that does
    not verify rejects the note even beside a valid one."""
    a, _ = chains
    impostor = GEN.IMPOSTOR_PLATFORM
    body = open_checkpoint(a["checkpoint"], KEY)
    witness = Signer.from_seed("witness.example", GEN._seed("witness"))
    cosigned = a["checkpoint"] + sign_checkpoint(body, witness).split("\n\n", 1)[1]
    assert step(mixed(a, lambda x: x.update(checkpoint=cosigned))) is None
    forged_line = sign_checkpoint(body, impostor).split("\n\n", 1)[1]
    # The impostor's line carries its own key id; rewrite it to claim the platform's.
    name, encoded = forged_line.rstrip("\n").split(" ", 2)[1:]
    raw = base64.b64decode(encoded)
    claimed = base64.b64encode(PLATFORM.key_id + raw[4:]).decode()
    spoiled = a["checkpoint"] + f"\u2014 {name} {claimed}\n"
    assert step(mixed(a, lambda x: x.update(checkpoint=spoiled))) == "checkpoint_signature"
