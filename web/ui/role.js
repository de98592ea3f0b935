// What the signed-in person may do. Screens show a control only to those
// who may use it: a viewer sees no button the server would refuse.
import { createContext, useContext } from "./html.js";

/** Holds `{ canWrite, canAdminister, userId }` for the whole app. */
export const Role = createContext({ canWrite: false, canAdminister: false, userId: null });

/** The roles, least first, as the server names them. */
export const ROLES = ["viewer", "editor", "admin"];

/** "an admin", "an editor", "a viewer". */
export function withArticle(role) {
  return `${role === "viewer" ? "a" : "an"} ${role}`;
}

/** Whether the signed-in person may change what is monitored (an editor or an admin). */
export function useCanWrite() {
  return useContext(Role).canWrite;
}

/** Whether the signed-in person manages people, tokens and secrets and reads the audit log (an admin). */
export function useCanAdminister() {
  return useContext(Role).canAdminister;
}

/** The signed-in person's user id: a screen leaves out what they may not do to themselves. */
export function useUserId() {
  return useContext(Role).userId;
}
