"""The lesson pages, one per module of symbreak/lessons/ with the same name; `common` holds what they share.

LESSONS lists the pages app.py puts in the navigation under "Lessons", and a teacher can send a class to."""

# (page, title, URL path): the URL paths are the ones links and bookmarks already carry.
LESSONS = (
    ("pages/lessons/gradients.py", "Why the gradients match", "lesson_gradients"),
    ("pages/lessons/breakers.py", "What breaks symmetry", "lesson_breakers"),
    ("pages/lessons/no_hidden.py", "No hidden layer", "lesson_no_hidden"),
    ("pages/lessons/split_speed.py", "How fast they split", "lesson_split_speed"),
    ("pages/lessons/wasted.py", "Why a tie wastes the network", "lesson_wasted"),
    ("pages/lessons/duplicates.py", "Do random neurons still copy each other?", "lesson_duplicates"),
    ("pages/lessons/init_scale.py", "How big a random start", "lesson_init_scale"),
    ("pages/lessons/course.py", "The course's initialization experiment", "lesson_course"),
    ("pages/lessons/ticket.py", "The lottery ticket", "lesson_ticket"),
    ("pages/compare.py", "Compare", "compare"),
)
LESSON_PAGES = {path: title for path, title, _ in LESSONS}
