"""The README's Python API example runs as a doctest (its outputs are the independently known values:
the icosahedron's m = (1 - 1/sqrt 5)/2, Construction 1's factor delta^2, E8's proved optimum 1/4)."""
import doctest
import re

from conftest import REPO


def test_readme_api_example_runs_as_a_doctest():
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    example = "".join(b for b in blocks if b.lstrip().startswith(">>>"))
    assert example, "the README's API example is missing"
    test = doctest.DocTestParser().get_doctest(example, {}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 10 and result.failed == 0, result
