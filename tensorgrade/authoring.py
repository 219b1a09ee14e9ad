"""Everything an assignment's source uses, in one import: `from tensorgrade.authoring import *`.

The check vocabulary (tensorgrade/checking/vocabulary.py), input draws, contracts of returned
values, thresholds derived from the reference, the judging helpers for judges of your own, and
`mistake`/`sample`/`STUB` (tensorgrade/course/source.py). See docs/authoring.md.
"""

from tensorgrade.checking.outside.judging import at_least, at_most, compare, failed, passed
from tensorgrade.checking.vocabulary import (JudgeCase, Verdict, backward, below, close, custom, declare, dict_of,
                                             from_reference, gradcheck, integers, list_of, normal, parameters, plain,
                                             saves_input, uniform)
from tensorgrade.course.source import STUB, mistake, sample

__all__ = [
    "close", "backward", "gradcheck", "saves_input", "parameters", "below", "custom", "declare",
    "uniform", "normal", "integers", "dict_of", "list_of", "from_reference", "plain",
    "JudgeCase", "Verdict", "compare", "failed", "passed", "at_least", "at_most",
    "mistake", "sample", "STUB",
]
# The vocabulary of each topic (tensorgrade/checking/vocabulary_<topic>.py), each with its own __all__:
# (one import line per topic module, below)
from tensorgrade.checking import vocabulary_tests  # noqa: E402
from tensorgrade.checking.vocabulary_tests import *  # noqa
__all__ += vocabulary_tests.__all__

from tensorgrade.checking import vocabulary_manual  # noqa: E402
from tensorgrade.checking.vocabulary_manual import *  # noqa
__all__ += vocabulary_manual.__all__

from tensorgrade.checking import vocabulary_training  # noqa: E402
from tensorgrade.checking.vocabulary_training import *  # noqa
__all__ += vocabulary_training.__all__

from tensorgrade.checking import vocabulary_dataset  # noqa: E402
from tensorgrade.checking.vocabulary_dataset import *  # noqa
__all__ += vocabulary_dataset.__all__

from tensorgrade.checking import vocabulary_evaluation  # noqa: E402
from tensorgrade.checking.vocabulary_evaluation import *  # noqa
__all__ += vocabulary_evaluation.__all__

from tensorgrade.checking import vocabulary_numpy  # noqa: E402
from tensorgrade.checking.vocabulary_numpy import *  # noqa
__all__ += vocabulary_numpy.__all__

from tensorgrade.checking import vocabulary_tensorflow  # noqa: E402
from tensorgrade.checking.vocabulary_tensorflow import *  # noqa
__all__ += vocabulary_tensorflow.__all__
