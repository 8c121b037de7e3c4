package flowstest

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/unsubivr/unsubivr"
)

// Store is an in-memory unsubivr.Store for engine tests. It follows the
// contract of the SQLite store in db/ (which has its own tests on a real
// file); Fail makes the next cancel fail as a broken database would.
type Store struct {
	mu          sync.Mutex
	Subscribers map[string]*unsubivr.Subscriber
	Passwords   map[string]string
	Subs        map[string][]*unsubivr.Subscription // by number
	Records     []unsubivr.Record
	Logs        []unsubivr.CallLog
	Failures    map[string]int // wrong passwords by number
	Fail        error          // returned by Unsubscribe/UnsubscribeAll while set
	next        int
}

// Demo returns a Store with the demo subscribers of `unsubivr db seed`.
func Demo() *Store {
	crbt := unsubivr.Service{Code: "CRBT", NameZh: "彩铃", NameEn: "colour ring-back tone", MonthlyFeeFen: 500, Kind: unsubivr.KindRingback}
	bd := unsubivr.Service{Code: "BLUE_DIAMOND", NameZh: "蓝钻", NameEn: "Blue Diamond", MonthlyFeeFen: 1000, Kind: unsubivr.KindMarketing, PurgeOnCancel: true}
	vrbt := unsubivr.Service{Code: "VRBT", NameZh: "视频彩铃", NameEn: "video ring-back tone", MonthlyFeeFen: 600, Kind: unsubivr.KindVideo}
	s := &Store{
		Subscribers: map[string]*unsubivr.Subscriber{},
		Passwords:   map[string]string{},
		Subs:        map[string][]*unsubivr.Subscription{},
		Failures:    map[string]int{},
	}
	add := func(number, pw string, svcs ...unsubivr.Service) {
		s.Subscribers[number] = &unsubivr.Subscriber{ID: int64(len(s.Subscribers) + 1), Number: number, Language: unsubivr.ZhCN}
		s.Passwords[number] = pw
		for _, svc := range svcs {
			s.Subs[number] = append(s.Subs[number], &unsubivr.Subscription{Service: svc, Status: unsubivr.StatusActive})
		}
	}
	add("13800138000", "123456", crbt, bd)
	add("13900139000", "654321", vrbt)
	add("13700137000", "111111")
	return s
}

// Subscriber implements unsubivr.Store.
func (s *Store) Subscriber(ctx context.Context, number string) (*unsubivr.Subscriber, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !unsubivr.ValidNumber(number) {
		return nil, unsubivr.Errorf(unsubivr.EINVALID, "malformed number")
	}
	sub := s.Subscribers[number]
	if sub == nil {
		return nil, unsubivr.Errorf(unsubivr.ENOTFOUND, "no such subscriber")
	}
	c := *sub
	return &c, nil
}

// ActiveSubscriptions implements unsubivr.Store.
func (s *Store) ActiveSubscriptions(ctx context.Context, number string) ([]unsubivr.Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Subscribers[number] == nil {
		return nil, unsubivr.Errorf(unsubivr.ENOTFOUND, "no such subscriber")
	}
	var out []unsubivr.Subscription
	for _, sub := range s.Subs[number] {
		if sub.Status == unsubivr.StatusActive {
			out = append(out, *sub)
		}
	}
	return out, nil
}

func (s *Store) newRecord(req unsubivr.Request, services []string) unsubivr.Record {
	s.next++
	r := unsubivr.Record{
		ID: int64(s.next), Code: fmt.Sprintf("%08d", 40000000+s.next), Number: req.Number,
		Services: services, Channel: req.Channel, CallID: req.CallID, AgentID: req.AgentID, Consent: req.Consent,
	}
	s.Records = append(s.Records, r)
	return r
}

// Unsubscribe implements unsubivr.Store.
func (s *Store) Unsubscribe(ctx context.Context, req unsubivr.Request) (unsubivr.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return unsubivr.Result{}, s.Fail
	}
	for _, sub := range s.Subs[req.Number] {
		if sub.Service.Code != req.ServiceCode {
			continue
		}
		if sub.Status == unsubivr.StatusCancelled {
			for _, r := range s.Records {
				for _, c := range r.Services {
					if r.Number == req.Number && c == req.ServiceCode {
						return unsubivr.Result{Outcome: unsubivr.AlreadyCancelled, Record: r}, nil
					}
				}
			}
		}
		sub.Status = unsubivr.StatusCancelled
		return unsubivr.Result{Outcome: unsubivr.Cancelled, Record: s.newRecord(req, []string{req.ServiceCode})}, nil
	}
	return unsubivr.Result{}, unsubivr.Errorf(unsubivr.ENOTFOUND, "no such subscription")
}

// UnsubscribeAll implements unsubivr.Store.
func (s *Store) UnsubscribeAll(ctx context.Context, req unsubivr.Request) (unsubivr.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return unsubivr.Result{}, s.Fail
	}
	var codes []string
	for _, sub := range s.Subs[req.Number] {
		if sub.Status == unsubivr.StatusActive {
			sub.Status = unsubivr.StatusCancelled
			codes = append(codes, sub.Service.Code)
		}
	}
	if len(codes) == 0 {
		return unsubivr.Result{Outcome: unsubivr.NothingActive}, nil
	}
	sort.Strings(codes)
	return unsubivr.Result{Outcome: unsubivr.Cancelled, Record: s.newRecord(req, codes)}, nil
}

// VerifyPassword implements unsubivr.Store: three failures lock.
func (s *Store) VerifyPassword(ctx context.Context, number, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Failures[number] >= 3 {
		return unsubivr.Errorf(unsubivr.ELOCKED, "locked")
	}
	if pw, ok := s.Passwords[number]; ok && pw == password {
		s.Failures[number] = 0
		return nil
	}
	s.Failures[number]++
	if s.Failures[number] >= 3 {
		return unsubivr.Errorf(unsubivr.ELOCKED, "locked")
	}
	return unsubivr.Errorf(unsubivr.EUNAUTHORIZED, "wrong password")
}

// SetLanguage implements unsubivr.Store.
func (s *Store) SetLanguage(ctx context.Context, number string, lang unsubivr.Language) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.Subscribers[number]; sub != nil {
		sub.Language = lang
		return nil
	}
	return unsubivr.Errorf(unsubivr.ENOTFOUND, "no such subscriber")
}

// RecordByCode implements unsubivr.Store.
func (s *Store) RecordByCode(ctx context.Context, code string) (*unsubivr.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.Records {
		if r.Code == code {
			return &r, nil
		}
	}
	return nil, unsubivr.Errorf(unsubivr.ENOTFOUND, "no such record")
}

// SaveCallLog implements unsubivr.Store.
func (s *Store) SaveCallLog(ctx context.Context, l unsubivr.CallLog) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Logs = append(s.Logs, l)
	return nil
}
