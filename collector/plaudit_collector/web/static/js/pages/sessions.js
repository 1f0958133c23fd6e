import { activityPage } from "./activity.js";

export const render = (main) => activityPage(main, "session");
