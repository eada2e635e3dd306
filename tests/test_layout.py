"""Layout parsing: every bad layout names file, line and column; good ones parse; hostile files are bounded."""

import argparse
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from embodied.arena import catalogue
from embodied.arena.builder import merge_wall_cells
from embodied.arena.catalogue import resolve_world, shipped_worlds
from embodied.arena.layout import MAX_FILE_BYTES, Layout, LayoutError, load_layout, parse_layout
from embodied.arena.procedural import MAX_ROOMS, generate_maze, parse_procedural_spec


def error_of(text, tmp_path):
    path = tmp_path / "bad.maze"
    path.write_text(text)
    with pytest.raises(LayoutError) as caught:
        load_layout(path)
    return caught.value


def test_unknown_character_names_line_and_column(tmp_path):
    err = error_of("name: x\n---\n#####\n#S.x#\n#####\n", tmp_path)
    assert (err.line, err.column) == (4, 4)
    assert "unknown character 'x'" in str(err) and "bad.maze:4:4" in str(err)


def test_no_start(tmp_path):
    err = error_of("#####\n#..F#\n#####\n", tmp_path)
    assert "no start" in str(err)


def test_food_unreachable_from_start(tmp_path):
    err = error_of("#######\n#S.#.F#\n#######\n", tmp_path)
    assert "food unreachable" in str(err) and (err.line, err.column) == (2, 6)


def test_second_start_unreachable(tmp_path):
    err = error_of("#######\n#S.#.S#\n#######\n", tmp_path)
    assert "start unreachable" in str(err) and (err.line, err.column) == (2, 6)


def test_ragged_rows(tmp_path):
    err = error_of("#####\n#S.#\n#####\n", tmp_path)
    assert "ragged" in str(err) and err.line == 2


def test_empty_file(tmp_path):
    assert "empty" in str(error_of("", tmp_path))
    assert "empty" in str(error_of("name: x\n---\n\n", tmp_path))


def test_size_out_of_range(tmp_path):
    err = error_of("#" * 70 + "\n#S" + "." * 67 + "#\n" + "#" * 70 + "\n", tmp_path)
    assert "out of range" in str(err)
    with pytest.raises(LayoutError, match="odd numbers 5..21"):
        parse_procedural_spec("procedural:23x9")
    with pytest.raises(LayoutError, match="odd numbers"):
        parse_procedural_spec("procedural:8x9")


def test_open_border_and_bad_header(tmp_path):
    err = error_of("#####\n#S...\n#####\n", tmp_path)
    assert "border" in str(err) and (err.line, err.column) == (2, 5)
    err = error_of("cell_size: big\n---\n#####\n#S..#\n#####\n", tmp_path)
    assert "cell_size" in str(err) and err.line == 1
    err = error_of("colour: red\n---\n#####\n#S..#\n#####\n", tmp_path)
    assert "unknown header key" in str(err)


def test_unknown_world_lists_shipped(tmp_path):
    with pytest.raises(LayoutError, match="t_maze"):
        resolve_world("no_such_maze")


@pytest.mark.parametrize("name", ["t_maze", "y_maze", "plus_maze", "radial_8", "hampton_court", "open_field"])
def test_classic_layouts_ship_and_parse(name):
    assert name in shipped_worlds()
    layout = resolve_world(name)
    assert layout.free.sum() > 5 and layout.starts


def test_procedural_mazes_are_perfect_and_seeded():
    a = generate_maze(np.random.default_rng(3), 11, 9)
    b = generate_maze(np.random.default_rng(3), 11, 9)
    c = generate_maze(np.random.default_rng(4), 11, 9)
    assert (a.grid == b.grid).all() and not (a.grid == c.grid).all()
    # perfect maze: free cells form a tree -> edges == nodes - 1
    free = a.free
    edges = (free[:, 1:] & free[:, :-1]).sum() + (free[1:] & free[:-1]).sum()
    assert edges == free.sum() - 1
    assert a.reachable_from(a.starts[0]).sum() == free.sum()


def test_procedural_loops_add_cycles():
    maze = generate_maze(np.random.default_rng(0), 15, 15, loops=0.5)
    free = maze.free
    edges = (free[:, 1:] & free[:, :-1]).sum() + (free[1:] & free[:-1]).sum()
    assert edges > free.sum() - 1


def test_walls_merge_into_long_boxes_covering_every_wall_once():
    layout = generate_maze(np.random.default_rng(1), 21, 21)
    boxes = merge_wall_cells(layout)
    cover = np.zeros(layout.grid.shape, int)
    for _, c, r, nc, nr in boxes:
        cover[r : r + nr, c : c + nc] += 1
    assert ((cover == 1) == ~layout.free).all() and (cover <= 1).all()
    assert len(boxes) < 0.5 * (~layout.free).sum()


# ---- hostile files and specs: one clear line each, bounded work (issue 16) ----------
GRID = "#####\n#S..#\n#####\n"


def bounded(call, seconds=60):
    """Run ``call`` in a daemon thread; a hang fails the test instead of stopping the suite."""
    outcome = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as err:  # noqa: BLE001  (handed back to the test)
            outcome["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"hung for {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.parametrize(
    "header, key",
    [
        ("wall_height: 0", "wall_height"),
        ("wall_height: -1", "wall_height"),
        ("wall_height: nan", "wall_height"),
        ("wall_height: inf", "wall_height"),
        ("wall_height: 0.05", "wall_height"),
        ("wall_height: 1e9", "wall_height"),
        ("cell_size: 0", "cell_size"),
        ("cell_size: nan", "cell_size"),
        ("cell_size: -0.3", "cell_size"),
        ("cell_size: 1e308", "cell_size"),
        ("colour.1: 1 2", "colour.1"),
        ("colour.1: 0.5 0.5 nan", "colour.1"),
        ("name: " + "x" * 500, "name"),
    ],
)
def test_bad_header_value_names_key_line_and_range(tmp_path, header, key):
    """wall_height 0, -1 or nan let the rat drive out of the maze; every numeric value is range-checked."""
    err = error_of(f"# a comment\n{header}\n---\n{GRID}", tmp_path)
    assert f"for {key!r}" in str(err) and err.line == 2 and err.column is not None
    assert "\n" not in str(err)


def test_duplicate_header_key_is_refused(tmp_path):
    err = error_of(f"wall_height: 0.3\nwall_height: 0.4\n---\n{GRID}", tmp_path)
    assert "given twice" in str(err) and err.line == 2


def test_lowest_wall_height_still_holds_the_rat(make_env, write_layout):
    """At the smallest wall height allowed (0.1 m) a rat driving into a wall for 5 s stays inside."""
    path = write_layout("wall_height: 0.1\n---\n#######\n#>....#\n#######\n")
    env = make_env(world=path, vision_size=16)
    env.reset(seed=0)
    for _ in range(150):
        _, _, _, _, info = env.step(np.array([1.0, 0.0, 0.0], np.float32))
    layout = env.unwrapped.layout
    assert 0 < info["position"][0] < (layout.cols - 1) * layout.cell_size
    assert info["cell"] == (5, 1)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "x.maze"
    os.mkfifo(fifo)
    with pytest.raises(LayoutError, match="not a regular file: it is a FIFO"):
        bounded(lambda: resolve_world(str(fifo)))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_device_is_refused_not_read():
    with pytest.raises(LayoutError, match="character device"):
        bounded(lambda: resolve_world("/dev/zero"))


def test_directory_symlink_loop_empty_nul_and_binary_files_are_refused(tmp_path):
    (tmp_path / "dir.maze").mkdir()
    (tmp_path / "a.maze").symlink_to(tmp_path / "b.maze")
    (tmp_path / "b.maze").symlink_to(tmp_path / "a.maze")
    (tmp_path / "empty.maze").write_bytes(b"")
    (tmp_path / "blank.maze").write_bytes(b"\n  \n")
    (tmp_path / "nul.maze").write_bytes(b"#####\n#S.\x00#\n#####\n")
    (tmp_path / "latin1.maze").write_bytes("name: caf\u00e9\n---\n".encode("latin-1") + GRID.encode())
    expected = {
        "dir.maze": "directory",
        "a.maze": "symlink loop",
        "empty.maze": "empty file",
        "blank.maze": "empty file",
        "nul.maze": "nul.maze:2:4: NUL byte",
        "latin1.maze": "latin1.maze:1:10: not UTF-8",
    }
    for name, message in expected.items():
        with pytest.raises(LayoutError, match=message) as caught:
            bounded(lambda: resolve_world(str(tmp_path / name)))
        assert "\n" not in str(caught.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "secret.maze"
    path.write_text(GRID)
    path.chmod(0)
    with pytest.raises(LayoutError, match="permission denied"):
        load_layout(path)


def test_oversized_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.maze"
    with open(path, "wb") as sparse:  # a sparse 1 GB file: reading it would take the memory
        sparse.truncate(1 << 30)
    with pytest.raises(LayoutError, match=f"over the limit of {MAX_FILE_BYTES} bytes"):
        bounded(lambda: load_layout(path))


def test_huge_grids_are_refused_with_the_limit():
    """10,000 x 10,000 characters: refused on its size, before any cell is looked at."""
    with pytest.raises(LayoutError, match=f"over the limit of {MAX_FILE_BYTES}"):
        bounded(lambda: parse_layout(("#" * 10_000 + "\n") * 10_000))
    with pytest.raises(LayoutError, match="size out of range: 100 grid rows, over the limit of 64") as caught:
        parse_layout("#" * 10 + "\n" + ("#" + "." * 8 + "#\n") * 98 + "#" * 10 + "\n")
    assert caught.value.line == 65
    with pytest.raises(LayoutError, match="size out of range: this row has 2000 columns, over the limit of 64"):
        parse_layout(("#" * 2000 + "\n") * 3)


def test_crlf_line_endings_and_a_byte_order_mark_are_accepted(tmp_path):
    plain = parse_layout(f"name: m\n---\n{GRID}")
    path = tmp_path / "windows.maze"
    path.write_bytes(b"\xef\xbb\xbf" + f"name: m\n---\n{GRID}".replace("\n", "\r\n").encode())
    odd = load_layout(path)
    assert odd.name == "m" and np.array_equal(odd.grid, plain.grid)


def test_a_maze_file_named_procedural_is_a_file(tmp_path, monkeypatch):
    """Only the 'procedural:' prefix makes a spec; an existing path or a .maze name is a file."""
    (tmp_path / "procedural_room.maze").write_text(GRID)
    (tmp_path / "procedural_plain").write_text(GRID)
    monkeypatch.chdir(tmp_path)
    assert isinstance(resolve_world("procedural_room.maze"), Layout)
    assert isinstance(resolve_world(str(tmp_path / "procedural_room.maze")), Layout)
    assert isinstance(resolve_world("procedural_plain"), Layout)
    with pytest.raises(LayoutError, match="no such layout file"):
        resolve_world("procedural_missing.maze")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("procedural:9x9:rooms=1000000000", f"rooms 1000000000 out of range: an integer in 0..{MAX_ROOMS}"),
        ("procedural:9x9:rooms=-1", "rooms -1 out of range"),
        ("procedural:9x9:rooms=2.5", "bad value '2.5' for 'rooms'"),
        ("procedural:9x9:loops=nan", "loops nan out of range"),
        ("procedural:9x9:loops=inf", "loops inf out of range"),
        ("procedural:9x9:loops=1.5", "loops 1.5 out of range"),
        ("procedural:9x9:loops=0.1,loops=0.2", "given twice"),
        ("procedural:9x9:walls=3", "unknown procedural option 'walls'"),
        ("procedural:9x99999999999", "height"),
        ("procedural:" + "9" * 1000 + "x9", "over the limit of 200"),
        ("procedural:9x9x9", "bad size"),
        ("procedural:axb", "bad size"),
        ("procedural", "expected 'procedural:WxH'"),
        ("procedural:9x9:loops=0.1:rooms=1", "expected 'procedural:WxH'"),
    ],
    ids=lambda value: value[:40],
)
def test_procedural_parameters_are_bounded(spec, message):
    with pytest.raises(LayoutError, match=re.escape(message)):
        bounded(lambda: resolve_world(spec))


def test_generate_maze_refuses_unbounded_rooms():
    with pytest.raises(LayoutError, match="rooms"):
        bounded(lambda: generate_maze(np.random.default_rng(0), 9, 9, rooms=10**9))


@pytest.mark.parametrize("world", ["", "a\x00b", "x" * 5000, 42, None], ids=["empty", "nul", "long", "int", "none"])
def test_world_argument_that_is_no_name_path_or_spec(world):
    with pytest.raises(LayoutError, match="world") as caught:
        resolve_world(world)
    assert "\n" not in str(caught.value)


def test_the_readme_format_example_parses_verbatim():
    """worlds/README.md's example, with its trailing comments, is a valid layout as written."""
    readme = (Path(__file__).resolve().parents[1] / "worlds" / "README.md").read_text()
    example = readme.split("```")[1].strip("\n")
    layout = parse_layout(example)
    assert layout.name == "T-maze" and layout.wall_height == 0.25
    assert layout.landmark_colours["1"] == (0.9, 0.2, 0.2) and "".join(layout.grid[1]) == "#S..F..1#"


def test_worlds_command_reports_a_bad_file_in_one_line_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.maze"
    bad.write_text("#####\n#S.x#\n#####\n")
    assert catalogue.run(argparse.Namespace(paths=[str(bad), str(tmp_path)])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "bad.maze:2:4: unknown character 'x'" in err[0] and "directory" in err[1]
