import pytest

from imbllm.optional import require


def test_missing_extra_names_what_needs_it_and_the_install_line():
    with pytest.raises(ImportError) as err:
        require("imbllm_no_such_module", "deep", "CTGAN and TVAE")
    assert str(err.value) == (
        "CTGAN and TVAE need imbllm_no_such_module; install the extra: pip install 'imbllm[deep]'."
    )


def test_present_module_is_returned():
    assert require("json", "report", "Nothing").dumps([1]) == "[1]"
