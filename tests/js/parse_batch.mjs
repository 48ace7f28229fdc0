// Parse each text of a JSON array read from standard input with web/codec.js;
// print one JSON result per text: the frame and its formatting, the codec's
// error code, or "crash" for any exception that is not the codec's own.
import { readFileSync } from "node:fs";
import { ProtocolError, formatFrame, parseFrame } from "../../web/codec.js";

const texts = JSON.parse(readFileSync(0, "utf8"));
const results = texts.map((text) => {
  try {
    const frame = parseFrame(text);
    return { reason: frame.reason, params: [...frame.params], content: frame.content, formatted: formatFrame(frame) };
  } catch (error) {
    if (error instanceof ProtocolError) return { error: error.code };
    return { crash: `${error?.name}: ${error?.message}` };
  }
});
process.stdout.write(JSON.stringify(results));
