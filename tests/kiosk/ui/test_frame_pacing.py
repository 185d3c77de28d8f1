"""How the app spreads showing a new screen over frames (no Kivy: a window and textures that
record what was asked of them, and a clock the test moves)."""
from kiosk.ui.frame_pacing import FramePacer


class RecordingWindow:
    def __init__(self):
        self.handlers = {}

    def bind(self, **handlers):
        self.handlers.update(handlers)

    def frame(self) -> str:
        """One pass of the main loop's drawing: 'drawn' or 'held' (the last picture stays)."""
        held_draw = self.handlers["on_draw"]()
        held_flip = self.handlers["on_flip"]()
        assert held_draw == held_flip       # never swap a frame that was not drawn
        return "held" if held_draw else "drawn"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class PendingText:
    """A label's texture whose text is rendered the first time it is bound."""

    def __init__(self, clock: Clock, render_s: float):
        self.clock, self.render_s, self.rendered, self.binds = clock, render_s, False, 0

    def bind(self):
        self.binds += 1
        if not self.rendered:
            self.clock.now += self.render_s
            self.rendered = True


def make(textures, clock, **kw):
    window = RecordingWindow()
    pacer = FramePacer(window, lambda: list(textures), clock=clock, **kw)
    return window, pacer


def test_nothing_new_is_drawn_at_once():
    clock = Clock()
    window, _pacer = make([], clock)
    assert [window.frame() for _ in range(3)] == ["drawn"] * 3


def test_a_new_screen_is_built_then_its_text_rendered_then_drawn():
    clock = Clock()
    labels = [PendingText(clock, 0.004) for _ in range(3)]
    window, pacer = make(labels, clock)
    pacer.screen_built()
    assert pacer.holding
    assert window.frame() == "held"                 # frame 1: built and laid out
    assert not any(t.rendered for t in labels)
    assert window.frame() == "held"                 # frame 2: all text rendered (12 ms)
    assert all(t.rendered for t in labels)
    assert pacer.holding                            # not on the display yet
    assert window.frame() == "drawn"                # frame 3: drawn and swapped
    assert not pacer.holding
    assert window.frame() == "drawn"


def test_text_rendering_is_spread_over_frames_within_the_budget():
    clock = Clock()
    labels = [PendingText(clock, 0.010) for _ in range(7)]      # 70 ms of text
    window, pacer = make(labels, clock, text_budget_s=0.025, max_held_frames=10)
    pacer.screen_built()
    frames = [window.frame() for _ in range(5)]
    assert frames == ["held", "held", "held", "held", "drawn"]
    assert all(t.rendered for t in labels)
    # each text frame stopped once it had spent more than the budget: 3 labels, 3, then 1
    assert [t.binds for t in labels] == [3, 3, 3, 2, 2, 2, 1]


def test_a_redraw_with_all_text_rendered_is_held_one_frame_only():
    clock = Clock()
    labels = [PendingText(clock, 0.004)]
    labels[0].rendered = True
    window, pacer = make(labels, clock)
    pacer.screen_built()
    assert [window.frame() for _ in range(2)] == ["held", "drawn"]


def test_a_stream_of_rebuilds_cannot_starve_the_display():
    clock = Clock()
    window, pacer = make([], clock, max_held_frames=3)
    shown = []
    for _ in range(12):
        pacer.screen_built()            # a new snapshot every frame
        shown.append(window.frame())
    assert "drawn" in shown[:4]
    assert shown.count("drawn") >= 3
