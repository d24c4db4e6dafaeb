"""The campaign DAG's task ids: the DAG file names its tasks with these, and task bodies that read
another task's XCom (build_image's image, validate's summary) pull by them."""

PLAN = "plan"
CHECK_ENVIRONMENT = "check_environment"
BUILD_IMAGE = "build_image"
REGISTER_JOBS = "register_jobs"
RUN_TESTS = "run_tests"
COLLECT = "collect"
VALIDATE = "validate"
PUBLISH = "publish"
VERDICT = "verdict"
FIND_BREAKS = "find_breaks"
START_CULPRIT_FINDER = "start_culprit_finder"
