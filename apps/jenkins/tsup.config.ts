import { library } from '../../tsup.base.js';

// One entry (`main` and the report writers); the `rel-jenkins` bin runs it. No @rel/* package is bundled in: each
// is a dependency, so one copy of @rel/core serves them all.
export default library();
