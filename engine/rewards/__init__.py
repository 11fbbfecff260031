"""Rewards: one registry of reward kinds (engine.rewards.registry), one module per kind, and the TRL adapter.

The public API the rest of the engine and the app use is re-exported here. Nothing in this package imports
engine.config when it is imported, because the config's schema is built from the registry.
"""

from engine.rewards.base import BaseScorer, RewardKind, RewardSpec
from engine.rewards.numeric import parse_number
from engine.rewards.problems import reward_problems
from engine.rewards.registry import (
                                     KINDS,
                                     RewardConfig,
                                     in_category,
                                     kind_of,
                                     runs_model_code,
                                     sandbox_report,
                                     web_kinds,
)
from engine.rewards.row import Row
from engine.rewards.safe_regex import REGEX_TIMEOUT_S, RegexTimeout, compile_pattern
from engine.rewards.text import completion_text
from engine.rewards.trl_adapter import (
                                     RewardFunction,
                                     SampleBuffer,
                                     build_reward_functions,
                                     reward_weights,
                                     score_completion,
)

__all__ = ["BaseScorer", "KINDS", "REGEX_TIMEOUT_S", "RegexTimeout", "RewardConfig", "RewardFunction", "RewardKind",
           "RewardSpec", "Row", "SampleBuffer", "build_reward_functions", "compile_pattern", "completion_text",
           "in_category", "kind_of", "parse_number", "reward_problems", "reward_weights", "runs_model_code",
           "sandbox_report", "score_completion", "web_kinds"]
