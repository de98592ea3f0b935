// What the signed-in person may do. Screens show a control only to those
// who may use it: a viewer sees no button the server would refuse.
import { createContext, useContext } from "./html.js";

/** Holds `{ canWrite, userId }` for the whole app. */
export const Role = createContext({ canWrite: false, userId: null });

/** Whether the signed-in person may change things (an admin). */
export function useCanWrite() {
  return useContext(Role).canWrite;
}

/** The signed-in person's user id: a screen leaves out what they may not do to themselves. */
export function useUserId() {
  return useContext(Role).userId;
}
