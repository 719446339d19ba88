"""The Bachoc-Vallentin three-point SDP (numerical) on kissing configurations."""
import pytest

from constellations.core.errors import ConfigurationError
from constellations.bounds import delsarte_lp_bound, three_point_bound


@pytest.mark.parametrize("n,kissing", [(3, 12), (4, 24)])
def test_beats_the_lp_on_kissing_numbers(n, kissing):
    # tau_3 = 12 (Schutte-van der Waerden), tau_4 = 24 (Musin): a valid bound is >= tau_n, and the
    # three-point SDP is below the LP's 13 and 25 (published: 12.42 and 24.56 at higher degree)
    b = three_point_bound(n, 0.5)
    assert b.details["certified"] is False and b.certificate is None
    assert kissing <= b.value < kissing + 1
    assert b.value < delsarte_lp_bound(n, 0.5).details["real"]


@pytest.mark.parametrize("args", [(2, 0.5), (25, 0.5), (3, 1.0), (3, 0.5, 0), (3, 0.5, 13), (3, 0.5, 6, 5)])
def test_bad_input(args):
    with pytest.raises(ConfigurationError):
        three_point_bound(*args)


def test_cli_three_point(cli):
    import json
    p = cli("bounds", "--codes", "--dim", 3, "--max-ip", "1/2", "--three-point", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["best"] == 13 and 12 <= d["three_point"]["value"] < 13
    assert d["three_point"]["certified"] is False
    p = cli("bounds", "--n", 10, "--dim", 3, "--three-point")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
