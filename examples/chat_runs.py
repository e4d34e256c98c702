"""Bundled chat-format examples: a customer-support agent of an outdoor-gear shop, in OpenAI chat messages.

``python examples/make_examples.py`` writes them (deterministically) to ``examples/chat/support_runs.jsonl``,
one run per line with ``id``, ``model``, ``system``, ``task``, ``outcome`` and ``messages``. Each run is one
*story* (a clean refund, a tracking loop, a refund error claimed as success...) written to contain one
recognizable failure (or none); examples/README.md lists them. The five first runs are the stories with their
original orders; the others retell the same stories with orders, items and customers drawn from a seeded
generator, in the mix of stories each model is given (``MIXES``), so each model has a failure signature.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

SYSTEM = (
    "You are the support agent of Ridgeline Outfitters. Use the tools to look things up and act; never invent "
    "order data. Refunds need an order in status 'delivered' or 'damaged'. Before you tell the customer an "
    "action is done, make sure the tool result confirms it. Finish by summarizing what you did."
)
TOOLS = ["lookup_order", "track_shipment", "search_policy", "issue_refund", "update_address", "send_email"]
TRACKING = json.dumps({"order_id": "RO-55120", "carrier": "UPS", "status": "in_transit",
                       "last_scan": "Memphis, TN hub", "last_scan_at": "2026-03-02T04:12:00Z"})


class Run:
    """Builds one conversation; call ids are numbered per run, so output is deterministic."""

    def __init__(self, run_id: str, model: str, task: str):
        self.record: dict[str, Any] = {"id": run_id, "model": model, "system": "ridgeline-support", "task": task}
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
        self.calls = 0

    def user(self, text: str) -> Run:
        self.messages.append({"role": "user", "content": text})
        return self

    def say(self, text: str) -> Run:
        self.messages.append({"role": "assistant", "content": text})
        return self

    def call(self, tool: str, args: dict[str, Any], result: Any, thought: str | None = None) -> Run:
        self.calls += 1
        call_id = f"call_{self.record['id'].split('-')[-1]}_{self.calls:02d}"
        self.messages.append({"role": "assistant", "content": thought, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": tool, "arguments": json.dumps(args)}}]})
        text = result if isinstance(result, str) else json.dumps(result)
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
        return self

    def done(self, success: bool, score: float, **metrics: Any) -> dict[str, Any]:
        return {**self.record, "outcome": {"success": success, "score": score, "metrics": metrics},
                "tools": [{"type": "function", "function": {"name": t}} for t in TOOLS], "messages": self.messages}


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    price: float
    damage: str = "arrived damaged"
    size: str = "M"

    def damaged_order(self, order_id: str, customer: str) -> dict[str, Any]:
        """The order record ``lookup_order`` returns for this item, reported damaged."""
        return {"order_id": order_id, "status": "damaged", "items": [{"sku": self.sku, "price": self.price}],
                "customer": customer}


TENT = Item("TENT-2P", "tent", 189.0, "arrived with a torn rain fly")
BOOTS = Item("BOOT-HK-10", "hiking boots", 89.0)
JACKET = Item("JKT-RAIN-M", "rain jacket", 129.0)
ITEMS = [TENT, BOOTS, JACKET, Item("PACK-45L", "backpack", 149.0, "arrived with a broken buckle"),
         Item("BAG-20F", "sleeping bag", 119.0, "arrived with a split seam"),
         Item("STOVE-1B", "camp stove", 64.0, "arrived with a cracked burner"),
         Item("POLE-CF", "trekking poles", 79.0, "arrived with one pole bent"),
         Item("FLC-ZIP-L", "fleece jacket", 69.0, "arrived with a stuck zipper", "L")]
CUSTOMERS = ["maria.lopez@example.com", "dev.patel@example.com", "sam.okafor@example.com",
             "lena.fischer@example.com", "jun.tanaka@example.com", "ana.silva@example.com"]
CITIES = [("220 Pine Ave", "Bend, OR 97701"), ("9 Birch Rd", "Boise, ID 83702"), ("71 Cedar Ln", "Eugene, OR 97401"),
          ("5 Aspen Ct", "Missoula, MT 59801"), ("310 Oak St", "Spokane, WA 99201")]
HUBS = ["Memphis, TN hub", "Louisville, KY hub", "Reno, NV hub", "Denver, CO hub"]


def tracking(order_id: str, hub: str) -> str:
    return json.dumps({"order_id": order_id, "carrier": "UPS", "status": "in_transit",
                       "last_scan": hub, "last_scan_at": "2026-03-02T04:12:00Z"})


def clean_refund(run_id: str = "support-clean", model: str = "gpt-4.1-mini", order_id: str = "RO-48213",
                 item: Item = TENT, customer: str = "maria.lopez@example.com", refund: str = "RF-90017") -> dict[str, Any]:
    name = item.name
    order = item.damaged_order(order_id, customer)
    return (Run(run_id, model, f"refund a damaged {name}")
            .user(f"My {name} from order {order_id} {item.damage}. I'd like a refund, please.")
            .call("lookup_order", {"order_id": order_id}, order, "Let me look up the order first.")
            .call("search_policy", {"query": "refund damaged item"},
                  "Damaged items: full refund to the original payment method, no return needed for items under $250.")
            .call("issue_refund", {"order_id": order_id, "amount": item.price, "reason": "damaged"},
                  {"refund_id": refund, "status": "created", "amount": item.price})
            .call("lookup_order", {"order_id": order_id}, {**order, "status": "refunded", "refund_id": refund},
                  "The refund was created; let me confirm the order shows it.")
            .say(f"I've refunded ${item.price:.2f} for the {name} (refund {refund}); the order now shows as refunded. "
                 f"It will reach your card in 3-5 business days, and you don't need to send the {name} back.")
            .done(True, 1.0, turns=6))


def recovered_refund(run_id: str, model: str, order_id: str, item: Item, customer: str, refund: str) -> dict[str, Any]:
    """A refund that fails once (gateway timeout), is retried and read back before the customer is told."""
    order = item.damaged_order(order_id, customer)
    args = {"order_id": order_id, "amount": item.price, "reason": "damaged"}
    return (Run(run_id, model, f"refund a damaged {item.name}")
            .user(f"My {item.name} from order {order_id} {item.damage}. Can I get my money back?")
            .call("lookup_order", {"order_id": order_id}, order, "Let me look up the order first.")
            .call("issue_refund", args, "Error: payment gateway timeout (504); no refund was created. Retry later.")
            .say("The payment gateway timed out, so no refund was created yet. I'll check the order before I retry.")
            .call("lookup_order", {"order_id": order_id}, order, "Making sure no refund went through, to avoid a double one.")
            .call("issue_refund", args, {"refund_id": refund, "status": "created", "amount": item.price})
            .call("lookup_order", {"order_id": order_id}, {**order, "status": "refunded", "refund_id": refund},
                  "This time the refund was created; let me confirm the order shows it.")
            .say(f"The first attempt failed on our side, the second went through: ${item.price:.2f} refunded "
                 f"(refund {refund}), and the order now shows as refunded.")
            .done(True, 1.0, turns=7))


def repeated_lookup(run_id: str, model: str, order_id: str, item: Item, customer: str, refund: str) -> dict[str, Any]:
    """A refund done right, after the same order lookup three times over (wasted turns, no harm)."""
    order = item.damaged_order(order_id, customer)
    run = (Run(run_id, model, f"refund a damaged {item.name}")
           .user(f"My {item.name} from order {order_id} {item.damage}. I'd like a refund, please."))
    for thought in ("Let me look up the order first.", "Let me look at the order again.", "Checking the order once more."):
        run.call("lookup_order", {"order_id": order_id}, order, thought)
    return (run.call("issue_refund", {"order_id": order_id, "amount": item.price, "reason": "damaged"},
                     {"refund_id": refund, "status": "created", "amount": item.price})
            .call("lookup_order", {"order_id": order_id}, {**order, "status": "refunded", "refund_id": refund},
                  "The refund was created; let me confirm the order shows it.")
            .say(f"Done: ${item.price:.2f} refunded for the {item.name} (refund {refund}); the order shows as refunded.")
            .done(True, 1.0, turns=8))


def repeated_tracking(run_id: str = "support-loop", model: str = "qwen3-32b", order_id: str = "RO-55120",
                      hub: str = "Memphis, TN hub", repeats: int = 4) -> dict[str, Any]:
    shipment = tracking(order_id, hub)
    run = (Run(run_id, model, "where is my order")
           .user(f"Where is my order {order_id}? It was supposed to arrive yesterday."))
    run.call("track_shipment", {"order_id": order_id}, shipment, "I'll check the tracking.")
    for _ in range(repeats):  # the same call, the same answer, nothing learned
        run.call("track_shipment", {"order_id": order_id}, shipment, "Let me check the tracking again.")
    return (run.say("Your package is still in transit. Let me check the tracking once more to be sure.")
            .done(False, 0.0, turns=12, stop_reason="max_turns"))


def refund_error_claimed(run_id: str = "support-false-success", model: str = "qwen3-32b", order_id: str = "RO-50877",
                         item: Item = BOOTS) -> dict[str, Any]:
    order = {"order_id": order_id, "status": "delivered", "items": [{"sku": item.sku, "price": item.price}]}
    return (Run(run_id, model, f"refund returned {item.name.split()[-1]}")
            .user(f"I returned the {item.name} from order {order_id} last week. Can you refund me?")
            .call("lookup_order", {"order_id": order_id}, order)
            .call("issue_refund", {"order_id": order_id, "amount": item.price, "reason": "returned"},
                  "Error: payment gateway timeout (504); no refund was created. Retry later.")
            .say(f"Good news: your refund of ${item.price:.2f} has been processed successfully and is on its way to "
                 "your card.")
            .done(False, 0.0, turns=4))


def promised_not_done(run_id: str = "support-unfinished", model: str = "gpt-4.1-mini", order_id: str = "RO-61004",
                      street: str = "220 Pine Ave", city: str = "Bend, OR 97701") -> dict[str, Any]:
    order = {"order_id": order_id, "status": "processing", "ship_to": "14 Elm St, Portland, OR 97205"}
    return (Run(run_id, model, "change the shipping address")
            .user(f"Please change the shipping address of order {order_id} to {street}, {city}, "
                  "and email me a confirmation.")
            .say("Sure! I'll update the address and email you the confirmation right away.")
            .call("lookup_order", {"order_id": order_id}, order)
            .say("The order is still processing, so the address can be changed. I will now update it to "
                 f"{street}, {city} and send you the confirmation email.")
            .done(False, 0.0, turns=3, stop_reason="end_turn"))


def task_reissued(run_id: str = "support-reissued", model: str = "qwen3-32b", order_id: str = "RO-47391",
                  item: Item = JACKET) -> dict[str, Any]:
    order = {"order_id": order_id, "status": "delivered", "items": [{"sku": item.sku, "price": item.price}]}
    ask = f"I want to exchange the {item.name} from order {order_id} for a size L."
    return (Run(run_id, model, f"exchange a {item.name.split()[-1]} size")
            .user(ask)
            .call("lookup_order", {"order_id": order_id}, order)
            .call("search_policy", {"query": "exchange size"}, "Size exchanges are free within 30 days of delivery.")
            .say("Could you tell me your order number and which item you would like to exchange?")
            .user(f"I already told you: {ask}")
            .call("lookup_order", {"order_id": order_id}, order, "Let me start by looking up the order.")
            .say("Thanks! To get started, could you confirm what you would like to do with this order?")
            .done(False, 0.0, turns=7, stop_reason="customer_left"))


ORIGINALS = [clean_refund, repeated_tracking, refund_error_claimed, promised_not_done, task_reissued]

# story -> how a seeded variant of it is told
STORIES: dict[str, Callable[[random.Random, str, str], dict[str, Any]]] = {
    "clean": lambda rng, rid, model: clean_refund(rid, model, _order(rng), rng.choice(ITEMS), rng.choice(CUSTOMERS),
                                                  f"RF-{rng.randint(90100, 99999)}"),
    "recovered": lambda rng, rid, model: recovered_refund(rid, model, _order(rng), rng.choice(ITEMS),
                                                          rng.choice(CUSTOMERS), f"RF-{rng.randint(90100, 99999)}"),
    "repeat-lookup": lambda rng, rid, model: repeated_lookup(rid, model, _order(rng), rng.choice(ITEMS),
                                                             rng.choice(CUSTOMERS), f"RF-{rng.randint(90100, 99999)}"),
    "loop": lambda rng, rid, model: repeated_tracking(rid, model, _order(rng), rng.choice(HUBS), rng.randint(3, 5)),
    "false-success": lambda rng, rid, model: refund_error_claimed(rid, model, _order(rng), rng.choice(ITEMS)),
    "unfinished": lambda rng, rid, model: promised_not_done(rid, model, _order(rng), *rng.choice(CITIES)),
    "reissued": lambda rng, rid, model: task_reissued(rid, model, _order(rng), rng.choice(ITEMS)),
}
# model -> the stories of its extra runs (with the originals: 12 runs each, at least 5 successes and 5 failures)
MIXES = {
    "gpt-4.1-mini": ["clean"] * 2 + ["recovered"] * 3 + ["unfinished"] * 3 + ["false-success"] * 2,
    "qwen3-32b": ["repeat-lookup"] * 2 + ["recovered"] * 3 + ["loop"] * 2 + ["false-success"] * 1 + ["reissued"] * 1,
}


def _order(rng: random.Random) -> str:
    return f"RO-{rng.randint(40000, 69999)}"


def story_of(run_id: str) -> str:
    """The story a run id tells: ``support-loop`` and ``support-loop-7`` are both ``loop``."""
    return run_id.removeprefix("support-").rstrip("0123456789").rstrip("-")


def all_runs() -> list[dict[str, Any]]:
    runs = [make() for make in ORIGINALS]
    number = len(runs)
    for model, stories in MIXES.items():
        for story in stories:
            number += 1
            runs.append(STORIES[story](random.Random(f"chat/{number}"), f"support-{story}-{number}", model))
    return runs


def write_chat_examples(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "support_runs.jsonl"
    lines = [json.dumps(run, ensure_ascii=False) for run in all_runs()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
