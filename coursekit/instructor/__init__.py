"""What an instructor runs: release, grading (with its sandbox), validate, run, template, doctor.

Students never import from here: what a notebook uses lives one floor up (``coursekit.*``).
Imports go one way, from here to there; the ``coursekit`` command (:mod:`coursekit.cli`) is a
thin front over these modules.

    course           where the course lives; nbgrader's configuration
    release          `coursekit release`: notebooks/ generated from solutions/
    results          what grading produces (CellGrade, statuses, grades.csv), shared below both graders
    grade            `coursekit grade`: the batch, with one of the two graders:
    sandbox/         the default grader: student code in bubblewrap, tests in this process
    nbgrader_grader  plain nbgrader (--no-sandbox)
    submissions      what may be graded, read safely
    feedback         what a student sees after grading
    validate         `coursekit validate`: is a notebook gradable, do its checks pass
    runner           `coursekit run`: execute notebooks headless
    template         the notebook template, as code
    doctor           `coursekit doctor`: is this environment ready
"""
