def test_booking_a_standard_course_books_36_sessions(front_desk):
    from tests.factories import book_course

    course = book_course(front_desk)
    assert len(course["sessions"]) == 36
