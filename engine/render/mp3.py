"""MP3 frames, and joining two LAME encodings of a piece's halves made at once on two cores.

Encoding is one core's work (~130-150 ms for 30 s of stereo), and after the synthesis the
other core is mostly idle. So the piece is encoded as two streams in parallel: the first
from the start to a little past the middle, the second from a few frames before the middle
to the end, both starting on a frame edge so that their frames cover the same stretches of
time. The file is the first stream's frames up to a join frame, then the second's.

Two things tie an MP3 frame to the frames before it, and both are checked at the join:

- The bit reservoir. A frame's main data may start ``main_data_begin`` bytes back, in the
  data areas of earlier frames (LAME at 192 kbps keeps ~450 bytes there). Those bytes come
  from the second stream's frames before the join, which are left out. But the first
  stream's last data bytes before the join belong to *its* next frame (also left out) for
  ``main_data_begin`` of that frame: so where the second stream needs no more than that,
  those bytes are overwritten with the second stream's, and every frame finds its data.
- The window overlap. A decoder adds each granule to the tail of the one before; this
  cancels only if both chose the same block types (long, start, short, stop). The join is
  made where both encodings chose the same types on both sides of it: having heard the
  same music for a few frames, they nearly always do.

Where no frame in the search window qualifies, the caller encodes the piece in one stream.
Joined or not, a decoder gives the same number of samples, and the audio around the join
differs from one encoding only by the quantisation noise any encoding has (tests).
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLES_PER_FRAME = 1152  # MPEG-1 Layer III
LEAD_FRAMES = 4  # the second stream's first frames: LAME's start-up (padding, empty reservoir)
SEARCH_FRAMES = 16  # join frames tried, from the middle on
_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)  # kbit/s
SAMPLE_RATES = (44100, 48000, 32000)  # MPEG-1's, by header index


@dataclass(frozen=True)
class Frame:
    start: int  # offset of the frame header in the stream
    end: int  # offset after the frame
    side: int  # offset of its side information (after the header and any CRC)
    data: int  # offset of the frame's own main data area (after the side information)
    channels: int


@dataclass(frozen=True)
class SideInfo:
    main_data_begin: int  # bytes of the frame's main data in earlier frames' data areas
    blocks: tuple[int, ...]  # block type (0 long, 1 start, 2 short, 3 stop) per granule/channel


@dataclass(frozen=True)
class Split:
    """Where the two streams' inputs begin and end, in frames of the whole piece."""

    first_end: int  # the first stream encodes frames [0, first_end)
    second_start: int  # the second stream encodes frames [second_start, end)
    middle: int  # the first join frame tried


def split_for(n_samples: int) -> Split:
    middle = n_samples // SAMPLES_PER_FRAME // 2
    return Split(
        first_end=middle + SEARCH_FRAMES + LEAD_FRAMES,
        second_start=middle - LEAD_FRAMES,
        middle=middle,
    )


def frames(stream: bytes) -> list[Frame]:
    """The frames of an MPEG-1 Layer III stream as LAME writes it (no ID3 or Xing tag).
    Raises ValueError on anything else (another MPEG version, lost sync, free format)."""
    out: list[Frame] = []
    i = 0
    while i + 4 <= len(stream):
        header = int.from_bytes(stream[i : i + 4], "big")
        if header >> 21 != 0x7FF:
            raise ValueError(f"no frame sync at byte {i}")
        if (header >> 19) & 3 != 3 or (header >> 17) & 3 != 1:
            raise ValueError("not MPEG-1 Layer III")
        kbps = _BITRATES[(header >> 12) & 15]
        rate_index = (header >> 10) & 3
        if kbps == 0 or rate_index == 3:
            raise ValueError("free-format or reserved frame")
        size = 144 * kbps * 1000 // SAMPLE_RATES[rate_index] + ((header >> 9) & 1)
        channels = 1 if (header >> 6) & 3 == 3 else 2
        side = i + 4 + (0 if (header >> 16) & 1 else 2)  # a 16-bit CRC when protected
        side_length = 17 if channels == 1 else 32
        if side + side_length > len(stream) or i + size > len(stream):
            raise ValueError("truncated frame")
        out.append(Frame(i, i + size, side, side + side_length, channels))
        i += size
    return out


def sample_rate_of(stream: bytes) -> int:
    """The sample rate in the first frame's header."""
    return SAMPLE_RATES[(stream[2] >> 2) & 3]


def join(first: bytes, second: bytes, split: Split) -> bytes | None:
    """The first stream's frames up to a join frame, then the second's (see the module
    docstring); None where no frame in the search window qualifies."""
    ones, twos = frames(first), frames(second)
    for join_at in range(split.middle, split.middle + SEARCH_FRAMES):
        k = join_at - split.second_start  # the same frame in the second stream
        if join_at >= len(ones) or k + 1 >= len(twos):
            break
        one, two = side_info(first, ones[join_at]), side_info(second, twos[k])
        needed = two.main_data_begin
        if (
            needed <= one.main_data_begin
            and one.blocks == two.blocks
            and side_info(first, ones[join_at - 1]).blocks == side_info(second, twos[k - 1]).blocks
        ):
            out = bytearray(first[: ones[join_at].start])
            for to, source in zip(
                _last_data_bytes(ones[:join_at], needed),
                _last_data_bytes(twos[:k], needed),
                strict=True,
            ):
                out[to] = second[source]
            out += second[twos[k].start :]
            return bytes(out)
    return None


def _last_data_bytes(frames_before: list[Frame], count: int) -> list[int]:
    """Offsets of the last ``count`` bytes of these frames' main data areas, in order."""
    offsets: list[int] = []
    for frame in reversed(frames_before):
        take = min(count - len(offsets), frame.end - frame.data)
        offsets.extend(range(frame.end - 1, frame.end - 1 - take, -1))
        if len(offsets) == count:
            break
    if len(offsets) != count:
        raise ValueError("the reservoir reaches before the first frame")
    return offsets[::-1]


def side_info(stream: bytes, frame: Frame) -> SideInfo:
    """A frame's main_data_begin and each granule's block type (read only where the join
    needs them: reading every frame's cost ~35 ms a piece)."""
    side = stream[frame.side : frame.data]
    channels = frame.channels
    bits = int.from_bytes(side, "big")
    length = len(side) * 8
    position = 0

    def read(n: int) -> int:
        nonlocal position
        position += n
        return (bits >> (length - position)) & ((1 << n) - 1)

    main_data_begin = read(9)
    read(5 if channels == 1 else 3)  # private bits
    read(4 * channels)  # scale factor selection
    blocks = []
    for _granule in range(2):
        for _channel in range(channels):
            read(12 + 9 + 8 + 4)  # part2_3_length, big_values, global_gain, scalefac_compress
            if read(1):  # window switching
                block_type = read(2)
                mixed = read(1)
                read(2 * 5 + 3 * 3)  # table_select x2, subblock_gain x3
                blocks.append(block_type | mixed << 2)
            else:
                read(3 * 5 + 4 + 3)  # table_select x3, region0_count, region1_count
                blocks.append(0)
            read(3)  # preflag, scalefac_scale, count1table_select
    return SideInfo(main_data_begin, tuple(blocks))
