"""Layout parsing: every bad layout names file, line and column; good ones parse."""
import numpy as np
import pytest

from embodied.arena.catalogue import resolve_world, shipped_worlds
from embodied.arena.layout import LayoutError, load_layout, parse_layout
from embodied.arena.procedural import generate_maze, parse_procedural_spec
from embodied.arena.builder import merge_wall_cells


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
        cover[r:r + nr, c:c + nc] += 1
    assert ((cover == 1) == ~layout.free).all() and (cover <= 1).all()
    assert len(boxes) < 0.5 * (~layout.free).sum()
