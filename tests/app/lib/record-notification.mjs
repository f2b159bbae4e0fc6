#!/usr/bin/env node
// Run by dunst (the `script` of the rule in notification-daemon.js's dunstrc) for every
// notification it displays: appends one JSON line to $NOKKEL_E2E_NOTIFICATIONS. dunst 1.9
// passes appname, summary, body, icon and urgency as arguments and the id, category and
// more as DUNST_* variables (dunst(5), SCRIPTING).
import { appendFileSync } from 'node:fs';

const [appname, summary, body, , urgency] = process.argv.slice(2);
const record = { id: process.env.DUNST_ID, appname, summary, body, urgency, category: process.env.DUNST_CATEGORY };
appendFileSync(process.env.NOKKEL_E2E_NOTIFICATIONS, `${JSON.stringify(record)}\n`);
