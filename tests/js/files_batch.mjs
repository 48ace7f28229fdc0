// Read a JSON object {frames, sizes, links} from standard input and print what
// web/protocol.js makes of each: readFile of each frame text (in the vectors'
// shape), humanSize of each size, isFileLink of each link; "crash" for any
// exception. tests/test_reading_files.py compares it with the Python readers.
import { readFileSync } from "node:fs";
import { parseFrame } from "../../web/codec.js";
import { humanSize, isFileLink, readFile } from "../../web/protocol.js";

const input = JSON.parse(readFileSync(0, "utf8"));
const guard = (fn) => {
  try {
    return fn();
  } catch (error) {
    return { crash: `${error?.name}: ${error?.message}` };
  }
};
const fileAsVector = (text) => {
  const file = readFile(parseFrame(text));
  if (file === null) return null;
  const { isImage, ...rest } = file;
  return { ...rest, is_image: isImage };
};
process.stdout.write(JSON.stringify({
  frames: input.frames.map((text) => guard(() => fileAsVector(text))),
  sizes: input.sizes.map((size) => guard(() => humanSize(size))),
  links: input.links.map((link) => guard(() => isFileLink(link))),
}));
