"""GTFS import on real feeds, and broken feeds refused with the file and line at fault."""

import shutil
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from relais.demo.setup import GTFS_DIR
from relais.transit.gtfs import GtfsError, import_feed
from relais.transit.models import Feed, Route, Stop

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "gtfs"


def shared_feed(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is not on this machine (the shared data sets)")
    return path


def test_star_rennes_folder(personas):
    result = import_feed(organization=personas.org, path=GTFS_DIR)
    assert (result.routes, result.stops) == (156, 1792)
    c4 = Route.objects.get(organization=personas.org, short_name="C4")
    assert c4.gtfs_id == "0004" and c4.route_type == 3 and c4.color
    assert Stop.objects.filter(organization=personas.org, name="République").exists()
    assert Feed.objects.get().publisher


def test_stm_montreal_with_stations(personas):
    result = import_feed(organization=personas.org, path=shared_feed("stm_montreal"))
    assert result.routes == 216 and result.stops == 8994
    station = Stop.objects.get(organization=personas.org, gtfs_id="STATION_M118")
    assert station.location_type == 1
    assert (
        Stop.objects.get(organization=personas.org, gtfs_id="43").parent_gtfs_id == "STATION_M118"
    )


def test_transcollines_folder_with_translations_and_zip(personas):
    folder = shared_feed("transcollines_qc")
    result = import_feed(organization=personas.org, path=folder)
    assert result.routes == 8
    assert result.translations >= 19
    visitor = Stop.objects.filter(
        organization=personas.org, name="Accueil CCN (Centre des visiteurs)"
    ).first()
    assert visitor.translations["name:en"] == "NCC Visitor Centre"
    assert "—" in Route.objects.get(organization=personas.org, gtfs_id="921").long_name
    # The published zip of the same network carries no translations.
    assert import_feed(organization=personas.org, path=next(folder.glob("*.zip"))).routes == 8


def test_reimport_keeps_ids_and_removes_what_left(personas, tmp_path):
    import_feed(organization=personas.org, path=GTFS_DIR)
    c4_pk = Route.objects.get(organization=personas.org, short_name="C4").pk
    feed = tmp_path / "feed"
    shutil.copytree(GTFS_DIR, feed)
    lines = (feed / "routes.txt").read_text(encoding="utf-8").splitlines()
    (feed / "routes.txt").write_text(
        "\n".join(line for line in lines if '"C1"' not in line), encoding="utf-8"
    )
    import_feed(organization=personas.org, path=feed)
    assert Route.objects.get(organization=personas.org, short_name="C4").pk == c4_pk
    assert not Route.objects.filter(organization=personas.org, short_name="C1").exists()


def test_organisations_do_not_share_networks(personas):
    import_feed(organization=personas.org, path=GTFS_DIR)
    assert not Route.objects.filter(organization=personas.other_org).exists()


def _broken(tmp_path, name, content):
    feed = tmp_path / "broken"
    shutil.copytree(GTFS_DIR, feed)
    if content is None:
        (feed / name).unlink()
    else:
        (feed / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return feed


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("routes.txt", None, "routes.txt: missing from the feed"),
        ("stops.txt", None, "stops.txt: missing from the feed"),
        ("routes.txt", "", "routes.txt, line 1: empty file"),
        (
            "routes.txt",
            "route_id,route_short_name\n1,C1\n",
            "routes.txt, line 1: missing column(s): route_type",
        ),
        (
            "routes.txt",
            "route_id,route_short_name,route_type\n1,C1,3\n2,C2,bus\n",
            "routes.txt, line 3: route_type is not an integer",
        ),
        (
            "routes.txt",
            "route_id,route_short_name,route_type\n1,C1,3\n1,C2,3\n",
            "routes.txt, line 3: route_id '1' appears twice",
        ),
        (
            "stops.txt",
            "stop_id,stop_name,stop_lat,stop_lon\nA,Gares,48.1,-1.6\nB,République,148.1,-1.6\n",
            "stops.txt, line 3: stop_lat out of range",
        ),
        (
            "stops.txt",
            "stop_id,stop_name\nA,Gares,extra\n",
            "stops.txt, line 2: 3 fields, the header has 2",
        ),
        ("stops.txt", b"stop_id,stop_name\nA,Gar\xe9s\n", "stops.txt, line 2: not UTF-8"),
        (
            "stops.txt",
            "stop_id,stop_name,location_type\nA,,0\n",
            "stops.txt, line 2: stop_name is required",
        ),
    ],
)
def test_broken_feeds_are_refused_with_file_and_line(personas, tmp_path, name, content, message):
    with pytest.raises(GtfsError) as error:
        import_feed(organization=personas.org, path=_broken(tmp_path, name, content))
    assert message in str(error.value)
    assert not Route.objects.exists() and not Stop.objects.exists()


def test_not_a_zip(personas, tmp_path):
    bad = tmp_path / "feed.zip"
    bad.write_text("hello")
    with pytest.raises(GtfsError, match="not a zip file"):
        import_feed(organization=personas.org, path=bad)


def test_zip_with_a_subfolder(personas, tmp_path):
    path = tmp_path / "star.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in GTFS_DIR.glob("*.txt"):
            archive.write(file, f"gtfs/{file.name}")
    assert import_feed(organization=personas.org, path=path).routes == 156


def test_command(personas, tmp_path, capsys):
    call_command("gtfs", "import", str(GTFS_DIR), "--org", "alpha")
    assert "156 routes, 1792 stops" in capsys.readouterr().out
    with pytest.raises(CommandError, match="Feed refused: routes.txt: missing"):
        call_command("gtfs", "import", str(_broken(tmp_path, "routes.txt", None)), "--org", "alpha")
    with pytest.raises(CommandError, match="No organisation"):
        call_command("gtfs", "import", str(GTFS_DIR), "--org", "nope")
