// Screens that show what the API says now: read once, then again every few
// seconds while the screen stays, with answers that come after it changed
// or went dropped.
import { useEffect, useRef, useState } from "./html.js";

/**
 * Runs `read()` now and every `every` ms while `deps` stay the same.
 * Gives `data` (the last answer, kept while a later read fails), `error`
 * (the last failure's message, or one set with `setError`), `missing`
 * (the last read found nothing there: a 404) and `reload`,
 * which reads again at once (after an action).
 */
export function usePolled(read, every, deps) {
  const [state, setState] = useState({ data: null, error: null, missing: false });
  const generation = useRef(0);
  const reload = async () => {
    const mine = generation.current;
    try {
      const data = await read();
      if (generation.current === mine) setState({ data, error: null, missing: false });
    } catch (failure) {
      if (generation.current === mine) {
        setState((was) => ({ ...was, error: failure.message, missing: failure.status === 404 }));
      }
    }
  };
  useEffect(() => {
    reload();
    const timer = setInterval(reload, every);
    return () => {
      generation.current += 1;
      clearInterval(timer);
    };
  }, deps);
  const setError = (error) => setState((was) => ({ ...was, error }));
  return { ...state, reload, setError };
}
